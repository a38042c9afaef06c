//! Operation timing, latency histograms and recent windows for Rust services.
//!
//! `observe-core` is the engine of the `observe` toolkit: a [`MetricsCollector`] keeps,
//! for every named operation, its count, errors, cancellations, total, min, max,
//! quantiles (from a log-linear histogram), when it was last recorded, and a recent
//! window of rates and error rates. Recording costs two atomic adds and never blocks;
//! reading does the work.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use observe_core::{MetricsCollector, OperationTimer};
//!
//! let collector = MetricsCollector::new();
//!
//! // Time a block like Go's `defer timer.End(err)`.
//! let timer = OperationTimer::new(&collector, "create_expense");
//! let result: Result<u64, String> = Ok(7);
//! timer.end(&result);
//!
//! // Or record what you measured yourself.
//! collector.record_operation("db_insert", Duration::from_micros(800), false);
//!
//! let summary = collector.summary();
//! assert_eq!(summary.total_operations, 2);
//! let json = serde_json::to_string(&collector.snapshot()).unwrap();
//! assert!(json.contains("\"create_expense\""));
//! ```
//!
//! # Outcomes
//!
//! An operation ends [`Ok`](Outcome::Ok), with an [`Error`](Outcome::Error), or
//! [`Cancelled`](Outcome::Cancelled): an [`OperationTimer`] or a [`Timed`] future dropped
//! before it ended. Cancellations count as errors unless the collector is built with
//! [`count_cancelled_as_error(false)`](MetricsCollectorBuilder::count_cancelled_as_error).
//!
//! # Feature flags
//!
//! - `prometheus` (default): Prometheus text and OpenMetrics exposition of operations,
//!   health, database pools and process figures through `prometheus-client`, on a
//!   registry that also holds your own metrics. See [`prometheus`].
//! - `protobuf`: the Prometheus protobuf exposition, with native histograms mapped from
//!   the fine histogram
//!   ([`MetricsCollector::encode_protobuf`], [`native_histograms`](MetricsCollectorBuilder::native_histograms));
//!   pulls in `prometheus-client`'s `prometheus_protobuf` (`prost`, and `protox` to compile
//!   its `.proto` at build time without `protoc`).
//! - `health` (default): async health checks on Tokio, with a registry that caches,
//!   times out and aggregates them; see [`health`](mod@health).
//! - `postgres`, `sqlite`: a health check of a `sqlx` pool.
//! - `redis`: a health check of Redis through the `redis` crate.
//! - `system`: a health check of memory and CPU through `sysinfo`.
//! - `tracing`: a `tracing-subscriber` layer that records every span (every
//!   `#[instrument]`ed function) as an operation, with its outcome; see
//!   [`tracing`](mod@tracing) and `docs/tracing.md`.
//! - `opentelemetry`: with `tracing`, the sampled OpenTelemetry trace and span ids of
//!   spans (as `tracing-opentelemetry` 0.34 makes them current) as exemplars.
//! - `full`: every optional integration, for docs and CI.
//!
//! # Minimum supported Rust version
//!
//! The MSRV is 1.88 (edition 2024) with the default features. The optional
//! integrations follow their crates: `postgres` and `sqlite` (`sqlx` 0.9) need 1.94,
//! `system` (`sysinfo` 0.40) needs 1.95. It may rise in a minor release, never in a
//! patch release.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The data path, stage by stage: what records (`engine`), what reads it back for people
// (`views`) and for Prometheus (`prometheus`), what judges it (`health`), and what feeds
// it from elsewhere (`tracing`). `collector` joins them; each stage offers the others
// only what its `mod.rs` re-exports.
mod collector;
mod engine;
mod error;
#[cfg(feature = "health")]
#[cfg_attr(docsrs, doc(cfg(feature = "health")))]
pub mod health;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod tracing;
mod views;

pub use collector::{MetricsCollector, MetricsCollectorBuilder};
pub use engine::{
    Clock, ManualClock, OVERFLOW_OPERATION, OperationHandle, OperationTimer, Outcome, Timed,
    TraceContext,
};
pub use error::BuildError;
pub use views::{
    ExemplarSnapshot, OperationSnapshot, ProcessStats, RecentSnapshot, SystemSummary,
    human_duration,
};

#[cfg(feature = "health")]
pub use health::{HealthRegistry, HealthReport, HealthStatus};
