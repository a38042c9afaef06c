//! The expenses API: its routes, handlers and errors.

mod categories;
mod error;
mod expenses;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use observe_core::{MetricsCollector, OperationTimer};

pub use error::ApiError;

use crate::cache::Cache;
use crate::db::Db;

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub db: Db,
    /// The category cache.
    pub cache: Arc<Cache>,
    /// Where the handlers' operations are recorded.
    pub collector: MetricsCollector,
}

/// The API's routes.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/expenses", post(expenses::create).get(expenses::list))
        .route("/api/expenses/{id}", get(expenses::get_one))
        .route("/api/categories/suggest", get(categories::suggest))
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Times `work` as the operation `name`: a server error (5xx) counts as an error, a
/// caller's mistake (4xx) does not.
///
/// The manual path, for a rule `#[instrument(err)]` cannot express (an `Err` that is
/// the caller's fault is not a failure): the handlers are timed here with an
/// [`OperationTimer`], as the seed Go service does with `defer timer.End(err)`. The
/// store and the cache are `#[instrument]`ed instead, and their operations come from
/// the `tracing` layer.
pub(crate) async fn timed<T>(
    collector: &MetricsCollector,
    name: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let timer = OperationTimer::new(collector, name);
    let result = work.await;
    if matches!(&result, Err(e) if e.is_server_error()) {
        timer.end_err();
    } else {
        timer.end_ok();
    }
    result
}

/// Runs a database call bounded by the database timeout. The call is an
/// `#[instrument]`ed method of [`Db`](crate::db::Db): a call dropped by the timeout is
/// recorded as cancelled.
pub(crate) async fn db_call<T>(
    call: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(error::DB_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::database(&e)),
        Err(_) => Err(ApiError::database_timeout()),
    }
}
