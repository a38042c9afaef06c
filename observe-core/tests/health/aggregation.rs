//! Every combination of critical and non-critical results gives the documented status.

use observe_core::BuildError;
use observe_core::health::HealthStatus::{Degraded, Healthy, Unhealthy};
use observe_core::health::{
    CheckOptions, CheckResult, HealthRegistry, HealthStatus, ReportOptions, aggregate_status,
    fn_check,
};

const ALL: [HealthStatus; 3] = [Healthy, Degraded, Unhealthy];

/// The documented rule, written out as a table.
fn expected(critical: HealthStatus, non_critical: HealthStatus) -> HealthStatus {
    match (critical, non_critical) {
        (Unhealthy, _) => Unhealthy,
        (Degraded, _) | (Healthy, Degraded | Unhealthy) => Degraded,
        (Healthy, Healthy) => Healthy,
    }
}

fn result_of(status: HealthStatus) -> CheckResult {
    match status {
        Healthy => CheckResult::healthy(),
        Degraded => CheckResult::degraded("slow"),
        Unhealthy => CheckResult::unhealthy("down"),
    }
}

#[tokio::test]
async fn every_combination_of_critical_and_non_critical_results() {
    for critical in ALL {
        for non_critical in ALL {
            let registry = HealthRegistry::builder()
                .check(fn_check(
                    "critical",
                    move || async move { result_of(critical) },
                ))
                .check_with(
                    fn_check("optional", move || async move { result_of(non_critical) }),
                    CheckOptions::new().critical(false),
                )
                .build()
                .expect("unique names");
            let report = registry.report(&ReportOptions::new()).await;
            assert_eq!(
                report.status,
                expected(critical, non_critical),
                "critical {critical}, non-critical {non_critical}"
            );
            assert_eq!(report.is_serving(), report.status != Unhealthy);
            assert_eq!(
                aggregate_status([(critical, true), (non_critical, false)]),
                report.status
            );
        }
    }
    assert_eq!(aggregate_status([]), Healthy);
    assert_eq!(
        aggregate_status([(Unhealthy, false), (Unhealthy, false)]),
        Degraded
    );
}

#[test]
fn duplicate_names_are_rejected_naming_them() {
    let err = HealthRegistry::builder()
        .check(fn_check("db", || async { CheckResult::healthy() }))
        .check(fn_check("cache", || async { CheckResult::healthy() }))
        .check(fn_check("db", || async { CheckResult::healthy() }))
        .check(fn_check("cache", || async { CheckResult::healthy() }))
        .build()
        .expect_err("duplicates");
    assert_eq!(
        err,
        BuildError::DuplicateCheck {
            names: vec!["cache".into(), "db".into()]
        }
    );
    assert!(err.to_string().contains("cache, db"), "{err}");
}

#[tokio::test]
async fn readiness_detailed_and_exclude_select_the_checks() {
    let registry = HealthRegistry::builder()
        .check_with(
            fn_check("db", || async { CheckResult::healthy() }),
            CheckOptions::new().ready(),
        )
        .check_with(
            fn_check("queue", || async { CheckResult::unhealthy("down") }),
            CheckOptions::new().ready().critical(false),
        )
        .check(fn_check("disk", || async {
            CheckResult::unhealthy("full")
        }))
        .check_with(
            fn_check("partner_api", || async { CheckResult::degraded("slow") }),
            CheckOptions::new().detailed(),
        )
        .build()
        .expect("unique names");

    let ready = registry.readiness(&ReportOptions::new()).await;
    assert!(
        !ready.ready,
        "a ready-tagged check is down, critical or not"
    );
    assert_eq!(ready.failing().collect::<Vec<_>>(), ["queue"]);
    assert_eq!(ready.checks.keys().collect::<Vec<_>>(), ["db", "queue"]);
    let ready = registry
        .readiness(&ReportOptions::new().exclude("queue"))
        .await;
    assert!(ready.ready);

    let report = registry.report(&ReportOptions::new()).await;
    assert_eq!(
        report.checks.keys().collect::<Vec<_>>(),
        ["db", "disk", "queue"]
    );
    assert_eq!(report.status, Unhealthy);
    assert_eq!(report.failing().collect::<Vec<_>>(), ["disk", "queue"]);
    let detailed = registry
        .report(&ReportOptions::new().detailed(true).exclude("disk"))
        .await;
    assert_eq!(
        detailed.checks.keys().collect::<Vec<_>>(),
        ["db", "partner_api", "queue"]
    );
    assert_eq!(detailed.status, Degraded);
    assert_eq!(registry.runs("disk"), Some(1));
    assert_eq!(registry.runs("nope"), None);
}

#[tokio::test]
async fn the_report_json_has_the_documented_keys() {
    let collector = observe_core::MetricsCollector::new();
    collector.record_operation("op", std::time::Duration::from_millis(3), false);
    let registry = HealthRegistry::builder()
        .service("expenses", "1.2.3")
        .collector(&collector)
        .check(fn_check("db", || async {
            CheckResult::degraded("slow").with_detail("ping_ms", 250.0)
        }))
        .build()
        .expect("valid");
    let json = serde_json::to_value(registry.report(&ReportOptions::new()).await).expect("json");
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["service"], "expenses");
    assert_eq!(json["version"], "1.2.3");
    assert!(json["uptime"].is_string() && json["uptime_seconds"].is_number());
    let timestamp = json["timestamp"].as_str().expect("timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.contains('T'),
        "{timestamp}"
    );
    let db = &json["checks"]["db"];
    assert_eq!(db["status"], "degraded");
    assert_eq!(db["critical"], true);
    assert_eq!(db["error"], "slow");
    assert_eq!(db["details"]["ping_ms"], 250.0);
    assert!(db["duration_ms"].is_number());
    assert_eq!(json["operation_metrics"]["total_operations"], 1);
}
