//! The monitoring endpoints: [`MonitoringService`], a `tower::Service` that answers
//! `/health`, `/ready`, `/live`, `/metrics`, `/system`, `/operation`, `/reset` and
//! `/prometheus` relative to where it is mounted, from axum (`nest_service`), plain
//! hyper, or any tower stack.
//!
//! Liveness never depends on a dependency (unless you opt in to a
//! [limit](MonitoringServiceBuilder::liveness_limit)); readiness does, and the
//! [`Readiness`] switch turns it off while the server drains.
//!
//! # Example: plain hyper
//!
//! ```no_run
//! use hyper_util::rt::{TokioExecutor, TokioIo};
//! use hyper_util::server::conn::auto;
//! use hyper_util::service::TowerToHyperService;
//! use observe_core::MetricsCollector;
//! use observe_tower::MonitoringService;
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let collector = MetricsCollector::new();
//! let monitoring = MonitoringService::builder(&collector).build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(monitoring.clone());
//!     tokio::spawn(async move {
//!         let _ = auto::Builder::new(TokioExecutor::new())
//!             .serve_connection(TokioIo::new(stream), service)
//!             .await;
//!     });
//! }
//! # }
//! ```

mod auth;
mod dashboard;
mod health;
mod query;
mod readiness;
mod response;
mod service;

pub use dashboard::DashboardHistory;
pub use readiness::Readiness;
pub use response::MonitoringBody;
pub use service::{DetailsPolicy, MonitoringService, MonitoringServiceBuilder};
