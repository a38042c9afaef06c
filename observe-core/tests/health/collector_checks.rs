//! The checks that read the collector (error rate, latency) and the runtime check.

use std::time::Duration;

use observe_core::MetricsCollector;
use observe_core::health::{
    CheckOptions, ErrorRateCheck, HealthRegistry, HealthStatus, LatencyCheck, ReportOptions,
    RuntimeCheck,
};

async fn status_of(registry: &HealthRegistry, name: &str) -> (HealthStatus, serde_json::Value) {
    let report = registry.report(&ReportOptions::new()).await;
    let check = &report.checks[name];
    (
        check.result.status,
        serde_json::to_value(&check.result).expect("json"),
    )
}

fn fresh(check: impl observe_core::health::HealthCheck) -> HealthRegistry {
    HealthRegistry::builder()
        .check_with(check, CheckOptions::new().ttl(Duration::ZERO))
        .build()
        .expect("valid")
}

#[tokio::test]
async fn error_rate_thresholds_and_the_minimum_traffic() {
    let collector = MetricsCollector::new();
    let registry = fresh(ErrorRateCheck::new(&collector));
    let record = |ok: u32, failed: u32| {
        for _ in 0..ok {
            collector.record_operation("op", Duration::from_millis(1), false);
        }
        for _ in 0..failed {
            collector.record_operation("op", Duration::from_millis(1), true);
        }
    };
    record(5, 5);
    let (status, json) = status_of(&registry, "error_rate").await;
    assert_eq!(
        status,
        HealthStatus::Healthy,
        "10 operations are below the minimum of 20: {json}"
    );
    record(90, 0); // 5 errors in 100: 5 %, not above 5 %
    let registry = fresh(ErrorRateCheck::new(&collector));
    let (status, json) = status_of(&registry, "error_rate").await;
    assert_eq!(status, HealthStatus::Degraded, "{json}");
    assert_eq!(json["details"]["error_rate_percent"], 5.0);
    record(0, 1);
    let registry = fresh(ErrorRateCheck::new(&collector));
    assert_eq!(
        status_of(&registry, "error_rate").await.0,
        HealthStatus::Unhealthy
    );
    // A chosen set of operations only.
    collector.record_operation("other", Duration::from_millis(1), false);
    let only_other = fresh(
        ErrorRateCheck::new(&collector)
            .operations(["other"])
            .min_operations(1),
    );
    assert_eq!(
        status_of(&only_other, "error_rate").await.0,
        HealthStatus::Healthy
    );
}

#[tokio::test]
async fn latency_p95_against_the_thresholds() {
    let collector = MetricsCollector::new();
    for _ in 0..100 {
        collector.record_operation("fast", Duration::from_millis(5), false);
        collector.record_operation("slow", Duration::from_millis(800), false);
    }
    let thresholds = (Duration::from_millis(100), Duration::from_secs(1));
    let fast_only = fresh(
        LatencyCheck::new(&collector)
            .operations(["fast"])
            .thresholds(thresholds.0, thresholds.1),
    );
    assert_eq!(
        status_of(&fast_only, "latency").await.0,
        HealthStatus::Healthy
    );
    let all = fresh(LatencyCheck::new(&collector).thresholds(thresholds.0, thresholds.1));
    let (status, json) = status_of(&all, "latency").await;
    assert_eq!(status, HealthStatus::Degraded, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("\"slow\"")),
        "{json}"
    );
    let strict = fresh(
        LatencyCheck::new(&collector)
            .thresholds(Duration::from_millis(10), Duration::from_millis(500)),
    );
    assert_eq!(
        status_of(&strict, "latency").await.0,
        HealthStatus::Unhealthy
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_runtime_check_sees_a_busy_executor() {
    let check = RuntimeCheck::new().thresholds(Duration::from_millis(20), Duration::from_secs(5));
    let registry = fresh(check);
    let (status, json) = status_of(&registry, "runtime").await;
    assert_eq!(status, HealthStatus::Healthy, "{json}");
    assert!(json["details"]["scheduling_delay_ms"].is_number());

    // A chain of tasks each blocking the only worker for 40 ms and spawning the next
    // before it ends: there is always one queued, and the probe task queues behind it.
    fn hog(left: u32) {
        if left > 0 {
            tokio::spawn(async move {
                std::thread::sleep(Duration::from_millis(40));
                hog(left - 1);
            });
        }
    }
    hog(10);
    let registry =
        fresh(RuntimeCheck::new().thresholds(Duration::from_millis(20), Duration::from_secs(5)));
    let (status, json) = status_of(&registry, "runtime").await;
    assert_eq!(status, HealthStatus::Degraded, "{json}");
}
