//! The Redis check against the real Redis, directly and through the fault proxy.

use std::time::{Duration, Instant};

use observe_core::health::{CheckOptions, HealthRegistry, HealthStatus, RedisCheck, ReportOptions};

use crate::proxy::Proxy;
use crate::services;

const TIMEOUT: Duration = Duration::from_millis(500);
const TTL: Duration = Duration::from_millis(200);

fn registry_for(url: &str) -> HealthRegistry {
    HealthRegistry::builder()
        .check_with(
            RedisCheck::from_url(url).expect("a valid URL"),
            CheckOptions::new()
                .timeout(TIMEOUT)
                .ttl(TTL)
                .critical(false),
        )
        .build()
        .expect("valid")
}

async fn redis(registry: &HealthRegistry) -> observe_core::health::CheckResult {
    registry.report(&ReportOptions::new()).await.checks["redis"]
        .result
        .clone()
}

async fn until(registry: &HealthRegistry, status: HealthStatus, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let result = redis(registry).await;
        if result.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "still {:?} after {limit:?}: {result:?}",
            result.status
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_info_of_a_healthy_redis() {
    let Some(service) = services::redis("ping_and_info_of_a_healthy_redis").await else {
        return;
    };
    let result = redis(&registry_for(&service.url)).await;
    assert_eq!(result.status, HealthStatus::Healthy, "{result:?}");
    assert!(result.details["ping_ms"].is_number());
    assert!(
        result.details["version"]
            .as_str()
            .is_some_and(|v| v.contains('.')),
        "{result:?}"
    );
    assert!(
        result.details["connected_clients"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );
    assert!(
        result.details["used_memory_bytes"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cut_stalled_and_back_without_rebuilding_the_check() {
    let Some(service) =
        services::redis("redis_cut_stalled_and_back_without_rebuilding_the_check").await
    else {
        return;
    };
    let proxy = Proxy::start(service.addr).await;
    let registry = registry_for(&proxy.url_for(&service.url));
    assert_eq!(redis(&registry).await.status, HealthStatus::Healthy);

    proxy.cut();
    let took = until(&registry, HealthStatus::Unhealthy, Duration::from_secs(3)).await;
    assert!(
        took <= TIMEOUT + TTL + Duration::from_millis(500),
        "unhealthy after {took:?}"
    );
    // Not critical: the whole is degraded, not unhealthy.
    assert_eq!(
        registry.report(&ReportOptions::new()).await.status,
        HealthStatus::Degraded
    );

    proxy.restore();
    until(&registry, HealthStatus::Healthy, Duration::from_secs(10)).await;

    proxy.stall();
    until(&registry, HealthStatus::Unhealthy, Duration::from_secs(3)).await;
    proxy.restore();
    until(&registry, HealthStatus::Healthy, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_password_never_shows() {
    let Some(service) = services::redis("a_redis_password_never_shows").await else {
        return;
    };
    let proxy = Proxy::start(service.addr).await;
    proxy.cut();
    let url = proxy
        .url_for(&service.url)
        .replacen("redis://", "redis://:t0p-secret@", 1);
    let registry = registry_for(&url);
    let json = serde_json::to_string(&registry.report(&ReportOptions::new()).await).expect("json");
    assert!(json.contains("unhealthy"), "{json}");
    assert!(!json.contains("t0p-secret"), "{json}");
}
