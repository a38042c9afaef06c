//! Checks that panic, hang or leak secrets, and the logs of status changes.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use observe_core::health::{
    CheckOptions, CheckResult, HealthRegistry, HealthStatus, ReportOptions, fn_check,
};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_panicking_and_a_hanging_check_beside_a_healthy_one() {
    let registry = HealthRegistry::builder()
        .check(fn_check("healthy", || async { CheckResult::healthy() }))
        .check(fn_check("panics", || async {
            if true {
                panic!("the driver exploded");
            }
            CheckResult::healthy()
        }))
        .check_with(
            fn_check("hangs", || async {
                std::future::pending::<()>().await;
                CheckResult::healthy()
            }),
            CheckOptions::new().timeout(Duration::from_millis(500)),
        )
        .build()
        .expect("valid");

    let started = Instant::now();
    let report = registry.report(&ReportOptions::new()).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "the first report waits for the timeout"
    );
    assert!(
        waited < Duration::from_millis(1_000),
        "and no longer: {waited:?}"
    );

    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert_eq!(
        report.checks["healthy"].result.status,
        HealthStatus::Healthy
    );
    let panicked = &report.checks["panics"].result;
    assert_eq!(panicked.status, HealthStatus::Unhealthy);
    assert_eq!(
        panicked.error.as_deref(),
        Some("the check panicked: the driver exploded")
    );
    let hung = &report.checks["hangs"].result;
    assert_eq!(hung.status, HealthStatus::Unhealthy);
    assert_eq!(hung.error.as_deref(), Some("timed out after 500ms"));

    // The registry still works afterwards.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = registry.report(&ReportOptions::new()).await;
    assert_eq!(again.checks["healthy"].result.status, HealthStatus::Healthy);
}

#[tokio::test]
async fn passwords_and_secrets_appear_nowhere_in_the_report() {
    let registry = HealthRegistry::builder()
        .check(fn_check("db", || async {
            CheckResult::unhealthy("cannot connect to postgres://app:hunter2@db.internal:5432/app")
                .with_detail("url", "postgres://app:hunter2@db.internal:5432/app")
                .with_detail("token_echo", "Bearer sk-live-123")
        }))
        .redact("sk-live-123")
        .build()
        .expect("valid");
    let report = registry.report(&ReportOptions::new()).await;
    let json = serde_json::to_string(&report).expect("json");
    assert!(!json.contains("hunter2"), "{json}");
    assert!(!json.contains("sk-live-123"), "{json}");
    assert!(
        json.contains("postgres://app:***@db.internal:5432/app"),
        "{json}"
    );
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_status_change_is_logged_once_not_on_every_call() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (check, _) = super::counting("db", Duration::ZERO, |run| match run {
            3..=5 => CheckResult::unhealthy("connection refused"),
            _ => CheckResult::healthy(),
        });
        let registry = HealthRegistry::builder()
            .check(check)
            .build()
            .expect("valid");
        for _ in 0..8 {
            registry.report(&ReportOptions::new()).await;
            tokio::time::sleep(Duration::from_millis(1_100)).await;
        }
    });
    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert_eq!(text.matches("health check got worse").count(), 1, "{text}");
    assert_eq!(text.matches("health check recovered").count(), 1, "{text}");
    let worse = text
        .lines()
        .find(|l| l.contains("got worse"))
        .expect("a warning");
    assert!(
        worse.contains("WARN") && worse.contains("check=\"db\"") || worse.contains("check=db"),
        "{worse}"
    );
    assert!(
        worse.contains("old=healthy") && worse.contains("new=unhealthy"),
        "{worse}"
    );
    assert!(worse.contains("connection refused"), "{worse}");
}
