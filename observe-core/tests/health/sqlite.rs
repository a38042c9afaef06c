//! The database check on an SQLite file.

use observe_core::health::{DatabaseCheck, HealthRegistry, HealthStatus, ReportOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

#[tokio::test]
async fn an_sqlite_file_is_healthy_then_unhealthy_once_closed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("health.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("open");
    let registry = HealthRegistry::builder()
        .check_with(
            DatabaseCheck::sqlite(pool.clone()).named("sqlite"),
            observe_core::health::CheckOptions::new().ttl(std::time::Duration::ZERO),
        )
        .build()
        .expect("valid");
    let report = registry.report(&ReportOptions::new()).await;
    let result = &report.checks["sqlite"].result;
    assert_eq!(result.status, HealthStatus::Healthy, "{result:?}");
    assert_eq!(result.details["max_connections"], 2);
    assert_eq!(report.checks["sqlite"].component_type, "datastore");

    pool.close().await;
    let registry = HealthRegistry::builder()
        .check(DatabaseCheck::sqlite(pool).named("sqlite"))
        .build()
        .expect("valid");
    let result = registry.report(&ReportOptions::new()).await.checks["sqlite"]
        .result
        .clone();
    assert_eq!(result.status, HealthStatus::Unhealthy);
    assert_eq!(result.error.as_deref(), Some("the pool is closed"));
}
