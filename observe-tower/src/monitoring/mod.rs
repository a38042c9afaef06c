//! The monitoring endpoints: [`MonitoringService`], a `tower::Service` that answers
//! `/health`, `/ready`, `/live`, `/metrics`, `/system`, `/operation`, `/reset` and
//! `/prometheus` (and, opt-in, a live `/dashboard`) relative to where it is mounted,
//! from axum (`nest_service`), plain hyper, or any tower stack.
//!
//! Liveness never depends on a dependency (unless you opt in to a
//! [limit](MonitoringServiceBuilder::liveness_limit)); readiness does, and the
//! [`Readiness`] switch turns it off while the server drains.
//!
//! # The dashboard
//!
//! Opt-in, [`with_dashboard`](MonitoringServiceBuilder::with_dashboard) serves a live
//! page at `dashboard`: the health of each check, the operations as a sortable table,
//! charts of the last 15 minutes (request rate, error rate, p95/p99, memory, CPU). The
//! page, its script and its style are compiled in (no CDN, a strict
//! Content-Security-Policy); it loads the [history](DashboardHistory) once and then
//! polls `dashboard/data?since=SEQ` every 2 s while visible. The page and its data pass
//! one guard, the [details policy](MonitoringServiceBuilder::details) (or
//! [its own](MonitoringServiceBuilder::dashboard_access)): under
//! [`DetailsPolicy::WithToken`] the browser asks for the reset token as a password.
//!
//! ```
//! use http::{Request, StatusCode};
//! use http_body_util::Empty;
//! use observe_core::MetricsCollector;
//! use observe_tower::MonitoringService;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let collector = MetricsCollector::new();
//! let monitoring = MonitoringService::builder(&collector)
//!     .reset_token("change-me")
//!     .with_dashboard()
//!     .build();
//!
//! let request = Request::get("/dashboard").body(Empty::<bytes::Bytes>::new()).unwrap();
//! let response = monitoring.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED); // no token, no page
//!
//! let request = Request::get("/dashboard")
//!     .header("authorization", "Bearer change-me")
//!     .body(Empty::<bytes::Bytes>::new())
//!     .unwrap();
//! let response = monitoring.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert!(response.headers()["content-security-policy"]
//!     .to_str()
//!     .unwrap()
//!     .contains("connect-src 'self'"));
//! # }
//! ```
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
mod negotiate;
mod query;
mod readiness;
mod response;
mod service;

pub use dashboard::DashboardHistory;
pub use negotiate::{EncodeError, Exposition};
pub use readiness::Readiness;
pub use response::MonitoringBody;
pub use service::{DetailsPolicy, MonitoringService, MonitoringServiceBuilder};
