//! The series the exposition benches encode, shared by `benches/exposition.rs` and the
//! instruction-count driver `examples/exposition_instructions.rs`, so that both measure
//! the same input: per operation, the five durations of [`RECORDED`] (one an error), in
//! observe and in `prometheus-client` under the same family names and help texts.

use std::time::Duration;

use observe_core::MetricsCollector;
use observe_core::prometheus::DEFAULT_BUCKETS;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram as PcHistogram, NativeHistogramConfig};
use prometheus_client::registry::{Registry, Unit};

/// The durations recorded for every operation: a few, spread over the buckets.
pub(crate) const RECORDED: [Duration; 5] = [
    Duration::from_micros(300),
    Duration::from_millis(3),
    Duration::from_millis(40),
    Duration::from_millis(700),
    Duration::from_secs(12),
];

type Labels = Vec<(String, String)>;
type HistogramFamily = Family<Labels, PcHistogram, fn() -> PcHistogram>;

/// `series` operation names, `operation_00000` on.
pub(crate) fn names(series: usize) -> Vec<String> {
    (0..series).map(|i| format!("operation_{i:05}")).collect()
}

/// An observe collector with every name recorded, native histograms at schema 3 when
/// `native`; no process metrics (their cost is per scrape, not per series).
pub(crate) fn observe_collector(names: &[String], native: bool) -> MetricsCollector {
    let mut builder = MetricsCollector::builder()
        .max_operations(names.len())
        .process_metrics(false);
    if native {
        builder = builder.native_histograms(3);
    }
    let collector = builder.build().expect("a valid collector configuration");
    for name in names {
        let handle = collector.operation(name);
        for (i, duration) in RECORDED.into_iter().enumerate() {
            handle.record(duration, i == 0);
        }
    }
    collector
}

/// A classic `prometheus-client` histogram on observe's default buckets.
pub(crate) fn prometheus_client_histogram() -> PcHistogram {
    PcHistogram::new(DEFAULT_BUCKETS.iter().copied())
}

/// The same, with native buckets at schema 3 besides.
pub(crate) fn prometheus_client_native_histogram() -> PcHistogram {
    PcHistogram::new_classic_and_native(
        DEFAULT_BUCKETS.iter().copied(),
        NativeHistogramConfig::with_schema(3),
    )
}

/// A `prometheus-client` registry with one histogram family made by `histogram`, and
/// the three counter families observe also exports when `with_counters`.
pub(crate) fn prometheus_client_registry_of(
    names: &[String],
    with_counters: bool,
    histogram: fn() -> PcHistogram,
) -> Registry {
    let mut registry = Registry::default();
    let histograms = HistogramFamily::new_with_constructor(histogram);
    let counters: [Family<Labels, Counter>; 3] = Default::default();
    for name in names {
        let labels = vec![("operation".to_owned(), name.clone())];
        let histogram = histograms.get_or_create(&labels);
        for duration in RECORDED {
            histogram.observe(duration.as_secs_f64());
        }
        if with_counters {
            counters[0]
                .get_or_create(&labels)
                .inc_by(RECORDED.len() as u64);
            counters[1].get_or_create(&labels).inc();
            counters[2].get_or_create(&labels).inc_by(0);
        }
    }
    if with_counters {
        let [operations, errors, cancelled] = counters;
        registry.register("observe_operations", "Operations recorded.", operations);
        registry.register(
            "observe_operation_errors",
            "Operations that failed (cancellations included unless configured otherwise).",
            errors,
        );
        registry.register(
            "observe_operation_cancelled",
            "Operations abandoned before they ended (dropped timers and futures).",
            cancelled,
        );
    }
    registry.register_with_unit(
        "observe_operation_duration",
        "How long operations took.",
        Unit::Seconds,
        histograms,
    );
    registry
}
