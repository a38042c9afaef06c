//! The reference server of `observe`: a small expenses API on axum with every part of
//! `observe` wired in, on an embedded SQLite by default and on PostgreSQL and Redis when
//! configured. Read [`app`] for the wiring to copy into your own service.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /api/expenses` | store an expense |
//! | `GET /api/expenses?from&to&limit&offset` | list expenses |
//! | `GET /api/expenses/{id}` | one expense |
//! | `GET /api/categories/suggest?text=` | a category, cached |
//! | `/monitoring/*` | the monitoring endpoints of `observe-tower` |
//! | `GET /metrics` | the Prometheus exposition |

pub mod api;
pub mod app;
pub mod cache;
pub mod config;
pub mod db;
pub mod healthcheck;
pub mod shutdown;
pub mod telemetry;

use std::future::Future;

pub use app::{App, StartError, build, build_with};
pub use config::Config;

/// Serves `app` on `listener` until `stop` resolves and the drain time has passed, then
/// finishes the requests in flight and closes the database pool.
///
/// # Errors
///
/// When serving fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    stop: impl Future<Output = ()> + Send + 'static,
    drain: std::time::Duration,
) -> std::io::Result<()> {
    let shutdown = shutdown::drain_after(stop, app.readiness.clone(), drain);
    axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown)
        .await?;
    app.refresher.abort();
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}
