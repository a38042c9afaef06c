//! Every `tracing` span as an operation: one `tracing-subscriber` layer, and each
//! `#[instrument]`ed function gets its count, errors, cancellations, latency histogram,
//! quantiles and recent window, in the JSON views, the health checks and Prometheus.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let collector = observe_core::MetricsCollector::new();
//! tracing_subscriber::registry()
//!     .with(observe_core::tracing::layer(&collector))
//!     .init();
//! ```
//!
//! # Example
//!
//! ```
//! use observe_core::MetricsCollector;
//! use tracing_subscriber::prelude::*;
//!
//! #[tracing::instrument(err)]
//! fn parse_amount(text: &str) -> Result<u32, std::num::ParseIntError> {
//!     text.parse()
//! }
//!
//! let collector = MetricsCollector::new();
//! let subscriber = tracing_subscriber::registry().with(observe_core::tracing::layer(&collector));
//! tracing::subscriber::with_default(subscriber, || {
//!     let _ = parse_amount("12");
//!     let _ = parse_amount("twelve");
//! });
//!
//! let op = collector.get("parse_amount").unwrap();
//! assert_eq!((op.count, op.error_count), (2, 1));
//! assert_eq!(op.error_events, 1, "the `error` event of `err`, at ERROR level");
//! ```
//!
//! # What is recorded
//!
//! Each span that reaches the layer is recorded once, when it closes, as one operation
//! named after the span (for `#[instrument]`, the function).
//! [`with_target_names`](OperationsLayer::with_target_names) names it `target::name`
//! instead, and a field `otel.name` recorded when the span is created names it outright
//! (as `tracing-opentelemetry` does). Names go through the collector like every other
//! name: cut to its maximum length, capped, folded into
//! [`OVERFLOW_OPERATION`](crate::OVERFLOW_OPERATION) past the cap.
//!
//! - **Duration**: the wall time from the span's creation to its last exit (a span never
//!   entered: to its close). A child span or a `JoinHandle` that keeps the span open
//!   longer does not stretch it. A task spawned with `.in_current_span()` enters the span
//!   itself on every poll, so its polls do count.
//! - **Busy time**, opt-in with [`with_busy_time`](OperationsLayer::with_busy_time): the
//!   time the span was actually entered (summed over the polls of an async span; a span
//!   entered on two threads at once counts that stretch once), recorded as a second
//!   operation `<name>.busy` beside the wall time's, with the same outcome, so that every
//!   view shows the two side by side.
//! - **Outcome**, decided from what the code said, never from log text:
//!   - an error when an event inside the span has an `error` field and no `message`:
//!     exactly what `#[instrument(err)]` emits, at whatever level `err(level = …)` says;
//!   - an error when the span records `otel.status_code = "error"` (any case) or records
//!     a value in a declared `error` field (`Span::record`; `false` says there was none);
//!     `otel.status_code = "ok"` wins over error events, and the latest status recorded
//!     counts;
//!   - with [`with_error_events_as_errors`](OperationsLayer::with_error_events_as_errors),
//!     any `ERROR`-level event inside the span is an error too (off by default: an
//!     `ERROR` log does not always mean the operation failed);
//!   - **cancelled** ([`Outcome::Cancelled`](crate::Outcome::Cancelled), counted as an
//!     error unless the collector says otherwise) when a span of a function
//!     instrumented with `ret` closes with neither a `return` nor an `error` event: it
//!     was dropped before it finished (a `select!` that took another branch, a
//!     timeout). The layer learns that a function has `ret` from its first `return`
//!     event, so a span that closes before any call of its function has returned counts
//!     as `Ok`. Without `ret`, an `Ok` and a cancellation look the same: both close
//!     silently.
//! - **Events**: the `WARN` and `ERROR` events inside each operation's spans (the span an
//!   event belongs to, not its parents), as `warn_events` and `error_events` in the JSON
//!   views and `{namespace}_operation_events_total{operation, level}` in Prometheus.
//!
//! # Filters
//!
//! A filter on the whole subscriber applies to every layer: `RUST_LOG=warn` as a global
//! [`EnvFilter`](https://docs.rs/tracing-subscriber/latest/tracing_subscriber/filter/struct.EnvFilter.html)
//! disables the `INFO` spans of `#[instrument]`, and they are silently lost to the
//! metrics as well. Filter the logs alone, with a per-layer filter:
//!
//! ```
//! use tracing_subscriber::{EnvFilter, fmt, prelude::*};
//!
//! let collector = observe_core::MetricsCollector::new();
//! let logs = fmt::layer().with_filter(EnvFilter::new("warn"));
//! let subscriber = tracing_subscriber::registry()
//!     .with(logs)
//!     .with(observe_core::tracing::layer(&collector));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("quiet_but_counted").in_scope(|| {});
//! });
//! assert_eq!(collector.get("quiet_but_counted").unwrap().count, 1);
//! ```
//!
//! The layer itself takes a per-layer filter as any layer does
//! (`layer(&collector).with_filter(LevelFilter::INFO)`); one that hides `INFO` events
//! also hides the `return` events of `ret`, and with them cancellations.
//!
//! # Beside `tracing-opentelemetry`
//!
//! The layer composes with `tracing-opentelemetry` in either order. With the
//! `opentelemetry` feature it also reads each span's OpenTelemetry trace and span ids
//! (from the context `tracing-opentelemetry` makes current while the span is entered,
//! without allocating or cloning) and, when the trace is sampled, records the span with
//! them, so that they become exemplars of its histogram bucket; see
//! [`TraceContext`](crate::TraceContext).
//!
//! # Cost
//!
//! Each span callsite is resolved to its operation once (in `register_callsite`); a span
//! keeps one small fixed-size value in its extensions and is recorded without a name
//! lookup (a span that sets `otel.name` is looked up by that name, as
//! [`record_operation`](crate::MetricsCollector::record_operation) does). Events below
//! `WARN` are passed over without a lookup unless some callsite needs them (`ret`,
//! `err(level = "info")`). `docs/performance.md` has the figures.

mod callsites;
mod events;
mod layer;
#[cfg(feature = "opentelemetry")]
mod otel;
mod span_state;

pub use layer::OperationsLayer;

use crate::collector::MetricsCollector;

/// A layer that records every span of a `tracing-subscriber` registry as an operation of
/// `collector`; see the [module docs](self).
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let collector = observe_core::MetricsCollector::new();
/// let layer = observe_core::tracing::layer(&collector)
///     .with_target_names(true)
///     .with_busy_time(true);
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!(target: "shop", "checkout").in_scope(|| {});
/// });
/// assert_eq!(collector.get("shop::checkout").unwrap().count, 1);
/// assert_eq!(collector.get("shop::checkout.busy").unwrap().count, 1);
/// ```
pub fn layer(collector: &MetricsCollector) -> OperationsLayer {
    OperationsLayer::new(collector)
}
