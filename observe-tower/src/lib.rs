//! Tower layers for `observe`: HTTP request metrics, operation timing of any service,
//! and the monitoring endpoints, for axum, hyper, tonic or any tower stack.
//!
//! - [`HttpMetricsLayer`]: request rate, errors, latency, in-flight requests and
//!   response sizes by method, route template and status, with no risk of a cardinality
//!   explosion; see [`http_metrics`].
//! - [`OperationLayer`]: times any [`tower::Service`](tower_service::Service) call as an
//!   operation of a [`MetricsCollector`](observe_core::MetricsCollector); see
//!   [`operation_layer`].
//! - [`MonitoringService`]: the monitoring endpoints (`/health`, `/ready`, `/live`,
//!   `/metrics`, `/system`, `/operation`, `/reset`, `/prometheus`); see [`monitoring`].
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use observe_core::MetricsCollector;
//! use observe_core::prometheus::ExpositionFormat;
//! use observe_tower::HttpMetricsLayer;
//! use tower::ServiceExt;
//!
//! let collector = MetricsCollector::new();
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "ada" }))
//!     .layer(HttpMetricsLayer::new(&collector));
//!
//! let response = app.oneshot(Request::get("/users/42").body(Body::empty()).unwrap()).await.unwrap();
//! # let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
//! assert_eq!(collector.get("GET /users/{id}").unwrap().count, 1);
//! let text = collector.encode_prometheus(ExpositionFormat::Prometheus).unwrap();
//! assert!(text.contains(r#"observe_http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#));
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `axum` (default): label requests with axum's `MatchedPath`.
//! - `protobuf`: serve the Prometheus protobuf exposition, with native histograms,
//!   when a scraper asks for it (pulls in `observe-core/protobuf`).
//! - `full`: everything, for docs and CI.
//!
//! # Minimum supported Rust version
//!
//! The same as `observe-core`'s.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod http_metrics;
pub mod monitoring;
pub mod operation_layer;

pub use http_metrics::{HttpMetrics, HttpMetricsLayer, HttpMetricsLayerBuilder};
pub use monitoring::{MonitoringService, Readiness};
pub use operation_layer::{Operation, OperationFuture, OperationLayer};
