//! Prometheus and OpenMetrics exposition through [`prometheus_client`].
//!
//! Every [`MetricsCollector`](crate::MetricsCollector) built with this feature owns a
//! [`prometheus_client::registry::Registry`] (its own, or one you pass to the builder)
//! on which it registers a [`Collector`](prometheus_client::collector::Collector) that
//! reads the operations at scrape time, summing the `le` buckets out of the histogram
//! the quantiles come from: recording an operation costs nothing extra for Prometheus. Register your own metrics on the same
//! registry and one [`encode`](crate::MetricsCollector::encode_prometheus) returns
//! everything: the operation families first, then the rest of the registry.
//!
//! On a registry the collector made itself, `encode_prometheus` writes the operation
//! families straight into either format (the bulk of a scrape), byte for byte what
//! `prometheus-client` would write, and leaves the rest to `prometheus-client`. On a
//! registry of your own, which may carry a prefix and constant labels, everything goes
//! through `prometheus-client`.
//!
//! # Families
//!
//! With the default namespace `observe`:
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `observe_operations_total` | counter | `operation` |
//! | `observe_operation_errors_total` | counter | `operation` |
//! | `observe_operation_cancelled_total` | counter | `operation` |
//! | `observe_operation_duration_seconds` | histogram | `operation` |
//! | `observe_build_info` | gauge (1) | `version` |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_start_time_seconds`, `process_threads`, `process_open_fds`, `process_max_fds` | standard process figures, where the platform has them | |
//!
//! With the `protobuf` feature, [`encode_protobuf`](crate::MetricsCollector::encode_protobuf)
//! writes the same families as Prometheus protobuf, and with
//! [`native_histograms`](crate::MetricsCollectorBuilder::native_histograms) the duration
//! histogram also carries native buckets (see [`NativeHistograms`]); the text formats
//! stay classic.
//!
//! Labelled histograms of your own that keep trace exemplars, written with the same rules
//! as the operations' (the HTTP layer's duration histogram is one): [`HistogramFamily`].
//!
//! Counters and histograms count over the collector's lifetime:
//! [`reset`](crate::MetricsCollector::reset) restarts the JSON views only, so exported
//! counters never go backwards.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use observe_core::MetricsCollector;
//! use observe_core::prometheus::ExpositionFormat;
//! use prometheus_client::metrics::counter::Counter;
//!
//! let collector = MetricsCollector::builder()
//!     .namespace("shop")
//!     .prometheus_buckets([0.01, 0.1, 1.0])
//!     .process_metrics(false)
//!     .build()?;
//!
//! // Your own metrics, on the same registry.
//! let orders: Counter = Counter::default();
//! collector.register_metric("shop_orders", "Orders placed", orders.clone());
//! orders.inc();
//!
//! collector.record_operation("checkout", Duration::from_millis(40), false);
//! collector.record_operation("checkout", Duration::from_millis(400), true);
//!
//! let text = collector.encode_prometheus(ExpositionFormat::OpenMetrics)?;
//! let expected = "\
//! ## HELP shop_operations Operations recorded.
//! ## TYPE shop_operations counter
//! shop_operations_total{operation=\"checkout\"} 2
//! ## HELP shop_operation_errors Operations that failed (cancellations included unless configured otherwise).
//! ## TYPE shop_operation_errors counter
//! shop_operation_errors_total{operation=\"checkout\"} 1
//! ## HELP shop_operation_cancelled Operations abandoned before they ended (dropped timers and futures).
//! ## TYPE shop_operation_cancelled counter
//! shop_operation_cancelled_total{operation=\"checkout\"} 0
//! ## HELP shop_operation_duration_seconds How long operations took.
//! ## TYPE shop_operation_duration_seconds histogram
//! ## UNIT shop_operation_duration_seconds seconds
//! shop_operation_duration_seconds_sum{operation=\"checkout\"} 0.44
//! shop_operation_duration_seconds_count{operation=\"checkout\"} 2
//! shop_operation_duration_seconds_bucket{le=\"0.01\",operation=\"checkout\"} 0
//! shop_operation_duration_seconds_bucket{le=\"0.1\",operation=\"checkout\"} 1
//! shop_operation_duration_seconds_bucket{le=\"1.0\",operation=\"checkout\"} 2
//! shop_operation_duration_seconds_bucket{le=\"+Inf\",operation=\"checkout\"} 2
//! ## HELP shop_build_info The version of observe-core serving these metrics.
//! ## TYPE shop_build_info gauge
//! ";
//! assert!(text.starts_with(expected), "{text}");
//! assert!(text.contains("\
//! ## HELP shop_orders Orders placed.
//! ## TYPE shop_orders counter
//! shop_orders_total 1
//! "));
//! assert!(text.ends_with("# EOF\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buckets;
mod buffer;
mod family;
mod format;
#[cfg(feature = "health")]
mod health;
mod native;
mod operations;
mod process;
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub mod protobuf;
mod readings;
mod writer;

pub use buckets::{DEFAULT_BUCKETS, validate_buckets};
pub(crate) use buckets::{LeTable, validate_seconds};
pub use buffer::Encoded;
pub(crate) use buffer::Pool;
pub(crate) use family::{FamilyInner, write_families};
pub use family::{HistogramFamily, HistogramFamilyBuilder, HistogramSeries};
pub use format::ExpositionFormat;
pub(crate) use format::openmetrics_to_prometheus;
#[cfg(feature = "health")]
pub(crate) use health::HealthCollector;
pub(crate) use native::NativeMapper;
pub use native::{
    DEFAULT_MAX_BUCKETS, DEFAULT_SCHEMA, DEFAULT_ZERO_THRESHOLD, MAX_SCHEMA, MIN_SCHEMA,
    NativeHistograms,
};
pub(crate) use operations::OperationsCollector;
pub(crate) use process::ProcessCollector;
#[cfg(feature = "protobuf")]
pub(crate) use protobuf::ProtobufWriter;
pub(crate) use readings::{Readings, Spare};
pub(crate) use writer::{HandWritten, OperationsWriter};

/// Checks a namespace against the Prometheus naming rules: `[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with `__` (reserved), at most 64 bytes.
pub(crate) fn validate_namespace(namespace: &str) -> Result<(), &'static str> {
    let mut chars = namespace.chars();
    match chars.next() {
        None => return Err("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err("it must start with an ASCII letter or an underscore");
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("it may hold only ASCII letters, digits and underscores");
    }
    if namespace.starts_with("__") {
        return Err("names starting with `__` are reserved by Prometheus");
    }
    if namespace.len() > 64 {
        return Err("it is longer than 64 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_namespace;

    #[test]
    fn namespaces_follow_prometheus_naming_rules() {
        for ok in ["observe", "my_app", "_x", "A1"] {
            assert!(validate_namespace(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1app",
            "my-app",
            "a:b",
            "__x",
            "é",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }
}
