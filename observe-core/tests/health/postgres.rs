//! The database check against the real PostgreSQL, directly and through the fault
//! proxy: cut, stalled and restored.

use std::time::{Duration, Instant};

use observe_core::health::{
    CheckOptions, DatabaseCheck, HealthRegistry, HealthStatus, ReportOptions,
};
use sqlx::postgres::PgPoolOptions;

use crate::proxy::Proxy;
use crate::services;

const TIMEOUT: Duration = Duration::from_millis(500);
const TTL: Duration = Duration::from_millis(200);

fn registry_for(pool: sqlx::PgPool) -> HealthRegistry {
    HealthRegistry::builder()
        .check_with(
            DatabaseCheck::postgres(pool),
            CheckOptions::new().timeout(TIMEOUT).ttl(TTL).ready(),
        )
        .build()
        .expect("valid")
}

async fn database(registry: &HealthRegistry) -> observe_core::health::CheckResult {
    registry.report(&ReportOptions::new()).await.checks["database"]
        .result
        .clone()
}

/// Polls until the database check has `status`; returns how long that took, and fails
/// after `limit`. Every report must itself answer at once (the cache answers).
async fn until(registry: &HealthRegistry, status: HealthStatus, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let asked = Instant::now();
        let result = database(registry).await;
        assert!(
            asked.elapsed() < TIMEOUT + Duration::from_millis(300),
            "a report waited {:?}",
            asked.elapsed()
        );
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
async fn a_healthy_database_reports_its_round_trip_and_pool() {
    let Some(pg) = services::postgres("a_healthy_database_reports_its_round_trip_and_pool").await
    else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect(&pg.url)
        .await
        .expect("connect");
    let result = database(&registry_for(pool)).await;
    assert_eq!(result.status, HealthStatus::Healthy, "{result:?}");
    assert!(
        result.details["ping_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0)
    );
    assert_eq!(result.details["max_connections"], 3);
    let pool = result.pool.expect("pool counts");
    assert_eq!(pool.max, 3);
    assert!(pool.idle + pool.in_use >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_stalled_and_restored_through_the_proxy() {
    let Some(pg) = services::postgres("cut_stalled_and_restored_through_the_proxy").await else {
        return;
    };
    let proxy = Proxy::start(pg.addr).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(&proxy.url_for(&pg.url))
        .expect("a valid URL");
    let registry = registry_for(pool);
    assert_eq!(database(&registry).await.status, HealthStatus::Healthy);

    proxy.cut();
    let took = until(&registry, HealthStatus::Unhealthy, Duration::from_secs(3)).await;
    assert!(
        took <= TIMEOUT + TTL + Duration::from_millis(500),
        "unhealthy after {took:?}"
    );
    let ready = registry.readiness(&ReportOptions::new()).await;
    assert!(!ready.ready);
    assert_eq!(ready.failing().collect::<Vec<_>>(), ["database"]);

    proxy.restore();
    until(&registry, HealthStatus::Healthy, Duration::from_secs(10)).await;

    proxy.stall();
    until(&registry, HealthStatus::Unhealthy, Duration::from_secs(3)).await;
    let stalled = database(&registry).await;
    assert!(
        stalled
            .error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "a stall is reported by the timeout: {stalled:?}"
    );
    proxy.restore();
    until(&registry, HealthStatus::Healthy, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_held_fully_in_use_reports_degraded_with_its_counts() {
    let Some(pg) =
        services::postgres("a_pool_held_fully_in_use_reports_degraded_with_its_counts").await
    else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&pg.url)
        .await
        .expect("connect");
    let held = (
        pool.acquire().await.expect("one"),
        pool.acquire().await.expect("two"),
    );
    let result = database(&registry_for(pool.clone())).await;
    assert_eq!(result.status, HealthStatus::Degraded, "{result:?}");
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("saturated"))
    );
    assert_eq!(result.details["in_use_connections"], 2);
    assert_eq!(result.details["idle_connections"], 0);
    assert_eq!(result.details["max_connections"], 2);
    drop(held);
    // The connections go back to the pool in a task of sqlx's: give them a moment.
    let registry = registry_for(pool);
    let started = Instant::now();
    while database(&registry).await.status != HealthStatus::Healthy {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still saturated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Found by the soak (benches/load/soak.sh): under load, a cut database left the pool
/// looking saturated (the connections it was still opening count as in use), and the
/// check answered "saturated", degraded, for most of the outage, so readiness stayed 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_does_not_hide_a_lost_database() {
    let Some(pg) = services::postgres("a_saturated_pool_does_not_hide_a_lost_database").await
    else {
        return;
    };
    let proxy = Proxy::start(pg.addr).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&proxy.url_for(&pg.url))
        .await
        .expect("connect");
    let held = (
        pool.acquire().await.expect("one"),
        pool.acquire().await.expect("two"),
    );
    let busy = database(&registry_for(pool.clone())).await;
    assert_eq!(busy.status, HealthStatus::Degraded, "{busy:?}");
    assert!(
        busy.error
            .as_deref()
            .is_some_and(|e| e.contains("saturated"))
    );

    proxy.cut();
    let lost = database(&registry_for(pool.clone())).await;
    assert_eq!(lost.status, HealthStatus::Unhealthy, "{lost:?}");
    let error = lost.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("cannot reach the database") && error.contains("saturated"),
        "{error}"
    );
    assert_eq!(lost.details["in_use_connections"], 2);

    proxy.restore();
    let back = database(&registry_for(pool)).await;
    assert_eq!(back.status, HealthStatus::Degraded, "{back:?}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_appears_nowhere_in_the_report() {
    let Some(pg) = services::postgres("a_password_in_the_url_appears_nowhere_in_the_report").await
    else {
        return;
    };
    let proxy = Proxy::start(pg.addr).await;
    let url = proxy
        .url_for(&pg.url)
        .replacen("://postgres@", "://postgres:s3cret-pw@", 1);
    assert!(
        url.contains("s3cret-pw"),
        "the URL carries a password: {url}"
    );
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy(&url)
        .expect("a valid URL");
    let registry = HealthRegistry::builder()
        .check_with(
            DatabaseCheck::postgres(pool),
            CheckOptions::new().timeout(TIMEOUT).ttl(TTL),
        )
        .redact("s3cret-pw")
        .build()
        .expect("valid");
    for cut in [false, true] {
        if cut {
            proxy.cut();
            until(&registry, HealthStatus::Unhealthy, Duration::from_secs(3)).await;
        }
        let json =
            serde_json::to_string(&registry.report(&ReportOptions::new()).await).expect("json");
        assert!(!json.contains("s3cret-pw"), "{json}");
    }
}
