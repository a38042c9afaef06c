//! The health gauges on the collector's registry: from cached results only.

use observe_core::MetricsCollector;
use observe_core::health::{
    CheckOptions, CheckResult, HealthRegistry, PoolStats, ReportOptions, fn_check,
};
use observe_core::prometheus::ExpositionFormat;

#[tokio::test]
async fn health_and_pool_gauges_come_from_cached_results_and_a_scrape_runs_nothing() {
    let collector = MetricsCollector::builder()
        .namespace("svc")
        .build()
        .expect("valid");
    let registry = HealthRegistry::builder()
        .collector(&collector)
        .check(fn_check("primary", || async {
            CheckResult::healthy().with_pool(PoolStats::new(3, 2, 10))
        }))
        .check_with(
            fn_check("cache \"eu\"", || async { CheckResult::unhealthy("down") }),
            CheckOptions::new().critical(false),
        )
        .build()
        .expect("valid");

    let before = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encode");
    assert!(
        !before.contains("svc_health"),
        "nothing before a first result:\n{before}"
    );
    assert_eq!(registry.runs("primary"), Some(0), "a scrape runs no check");

    registry.report(&ReportOptions::new()).await;
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encode");
    for line in [
        "# TYPE svc_health_status gauge",
        "svc_health_status 1",
        r#"svc_health_check_status{check="primary"} 2"#,
        r#"svc_health_check_status{check="cache \"eu\""} 0"#,
        "# TYPE svc_health_check_duration_seconds gauge",
        r#"svc_db_pool_connections{pool="primary",state="idle"} 3"#,
        r#"svc_db_pool_connections{pool="primary",state="in_use"} 2"#,
        r#"svc_db_pool_max_connections{pool="primary"} 10"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert_eq!(registry.runs("primary"), Some(1));
    collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encode");
    assert_eq!(registry.runs("primary"), Some(1), "scrapes ran nothing");

    // A dropped registry leaves the exposition.
    drop(registry);
    let after = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encode");
    assert!(!after.contains("svc_health_status"), "{after}");
}
