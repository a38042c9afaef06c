//! A service that uses observe still runs under valgrind. rustix's raw Linux backend
//! reads the vDSO itself, which valgrind does not map where the auxiliary vector says:
//! the first clock read crashed the process (rustix#1559) until observe-core asked for
//! rustix's libc backend. This test runs its own binary under `valgrind --tool=none`.
//!
//! Without valgrind the test is skipped with a printed reason, unless
//! `OBSERVE_REQUIRE_SERVICES=1` (as in CI), where it fails.

use std::process::Command;
use std::time::Duration;

use observe_core::MetricsCollector;

/// Set in the child that runs under valgrind.
const CHILD: &str = "OBSERVE_UNDER_VALGRIND";

/// What a service does with observe, in the child under valgrind: nothing otherwise.
#[test]
fn work_under_valgrind() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let collector = MetricsCollector::new();
    collector.record_operation("query", Duration::from_millis(3), false);
    collector.start_timer("timed").end_ok();
    assert_eq!(collector.get("query").map(|op| op.count), Some(1));
    #[cfg(feature = "prometheus")]
    {
        let text = collector
            .encode_prometheus(observe_core::prometheus::ExpositionFormat::Prometheus)
            .expect("encodes");
        assert!(text.contains("query"));
    }
}

#[test]
fn a_process_using_observe_runs_under_valgrind() {
    let exe = std::env::current_exe().expect("the test binary");
    let run = Command::new("valgrind")
        .args(["--tool=none", "-q", "--error-exitcode=99"])
        .arg(&exe)
        .args(["work_under_valgrind", "--exact", "--test-threads=1"])
        .env(CHILD, "1")
        .output();
    let output = match run {
        Ok(output) => output,
        Err(e) => {
            let required = std::env::var("OBSERVE_REQUIRE_SERVICES").as_deref() == Ok("1");
            assert!(
                !required,
                "valgrind is required (OBSERVE_REQUIRE_SERVICES=1) but cannot run: {e}"
            );
            eprintln!(
                "SKIP a_process_using_observe_runs_under_valgrind: valgrind cannot run ({e})"
            );
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "under valgrind: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
