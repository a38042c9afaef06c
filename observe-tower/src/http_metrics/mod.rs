//! HTTP request metrics: [`HttpMetricsLayer`] and the middleware it builds.
//!
//! Wrap a service with the layer and every request is counted and timed, until its
//! response body ends, under bounded labels:
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `{ns}_http_requests_total` | counter | `method`, `route`, `status` |
//! | `{ns}_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `{ns}_http_requests_in_flight` | gauge | `method`, `route` |
//! | `{ns}_http_response_size_bytes` | histogram | `method`, `route` |
//!
//! - `method` is one of the nine standard methods, or `_OTHER`.
//! - `route` is the route template, never the raw path: axum's `MatchedPath` when the
//!   request carries one (feature `axum`), else what the
//!   [route resolver](HttpMetricsLayerBuilder::route_resolver) returns, else
//!   `unmatched`; at most [`max_routes`](HttpMetricsLayerBuilder::max_routes) distinct
//!   values, then `__overflow__`. A million distinct URLs make a bounded number of series.
//! - `status` is the response status; `499` when the client went away before any
//!   response, `500` when the inner service failed.
//!
//! Each request is also recorded as the operation `"{METHOD} {route}"` of the collector,
//! so the JSON views show it: a `5xx` (or what the
//! [classifier](HttpMetricsLayerBuilder::classify_errors) says) or an error of the inner
//! service is an error; a request whose body or future was dropped before the end is
//! cancelled.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::get};
//! use observe_core::MetricsCollector;
//! use observe_tower::HttpMetricsLayer;
//!
//! let collector = MetricsCollector::new();
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     .layer(HttpMetricsLayer::new(&collector));
//! # let _ = app;
//! ```

mod body;
mod families;
mod future;
mod guard;
mod labels;
mod layer;
mod series;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use labels::{
    CLIENT_CLOSED_STATUS, OTHER_METHOD, OVERFLOW_ROUTE, ResolveRoute, UNMATCHED_ROUTE,
};
pub use layer::{HttpMetricsLayer, HttpMetricsLayerBuilder};
pub use service::HttpMetrics;
