//! Runs the real `promtool check metrics` on an exposition.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Fails the test when `promtool` rejects `text`. Without `promtool` the check is skipped
/// with a printed reason, unless `OBSERVE_REQUIRE_SERVICES=1` (as in CI), where it fails.
pub(crate) fn check(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var("OBSERVE_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "promtool is required (OBSERVE_REQUIRE_SERVICES=1) but cannot run: {e}"
            );
            println!(
                "SKIP promtool check: promtool cannot run ({e}); install the Debian package prometheus"
            );
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).expect("write to promtool");
    }
    let output = child.wait_with_output().expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    assert!(
        report.trim().is_empty(),
        "promtool reported problems:\n{report}"
    );
}
