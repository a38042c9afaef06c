//! A `MonitoringService` as a service would mount it: operations recorded, health
//! checks of each kind (ready, detailed, degraded), a reset token, the dashboard on.

use std::time::Duration;

use observe_core::MetricsCollector;
use observe_core::health::{CheckOptions, CheckResult, HealthRegistry, fn_check};
use observe_tower::MonitoringService;

/// The reset token of [`service`].
pub const TOKEN: &str = "s3cret-token";

/// A detail that only callers holding the token may see.
pub const SECRET_DETAIL: &str = "detail-only-for-the-token-7f3a";

/// Operation names recorded before the first request (the tests' hostile names).
pub const NAMES: &[&str] = &[
    "checkout",
    "a b",
    "say \"hi\"",
    "back\\slash\\",
    "new\nline",
    "日本語 ünïcödé 🚀",
];

/// The service, its collector, and the registry behind it.
pub fn service() -> (MonitoringService, MetricsCollector) {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    record(&collector);
    let health = HealthRegistry::builder()
        .collector(&collector)
        .check_with(
            fn_check("database", || async {
                CheckResult::healthy().with_detail("pool", SECRET_DETAIL)
            }),
            CheckOptions::new().ready(),
        )
        .check_with(
            fn_check("cache", || async {
                CheckResult::degraded("slow").with_error(SECRET_DETAIL)
            }),
            CheckOptions::new().critical(false),
        )
        .check_with(
            fn_check("disk", || async { CheckResult::healthy() }),
            CheckOptions::new()
                .detailed()
                .ttl(Duration::from_secs(3600)),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let service = MonitoringService::builder(&collector)
        .health(&health)
        .reset_token(TOKEN)
        .with_dashboard()
        .build();
    (service, collector)
}

/// Records each of [`NAMES`] a few times, some failed.
pub fn record(collector: &MetricsCollector) {
    for (i, name) in NAMES.iter().enumerate() {
        for j in 0..=i as u64 {
            collector.record_operation(name, Duration::from_micros(100 + j * 7_919), j == 1);
        }
    }
}

/// What a request may not change: each operation's name and counts.
pub fn counts(collector: &MetricsCollector) -> Vec<(String, u64, u64)> {
    let mut counts: Vec<_> = collector
        .snapshot()
        .into_iter()
        .map(|s| (s.name, s.count, s.error_count))
        .collect();
    counts.sort();
    counts
}
