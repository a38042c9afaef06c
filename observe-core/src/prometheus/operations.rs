//! The `Collector` that exposes every operation of a [`MetricsCollector`] at scrape time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, NativeHistogram, NativeHistogramBuckets, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::readings::Readings;
use crate::collector::WeakCollector;
use crate::engine::Lifetime;

/// Help texts, shared with the hand-written encoder.
pub(super) const HELP_OPERATIONS: &str = "Operations recorded.";
pub(super) const HELP_ERRORS: &str =
    "Operations that failed (cancellations included unless configured otherwise).";
pub(super) const HELP_CANCELLED: &str =
    "Operations abandoned before they ended (dropped timers and futures).";
pub(super) const HELP_DURATION: &str = "How long operations took.";
pub(super) const HELP_BUILD: &str = "The version of observe-core serving these metrics.";

/// Picks one counter out of a reading.
type ReadCounter = fn(&Lifetime) -> u64;

/// Encodes the operations of one collector; holds it weakly, so the registry inside
/// the collector does not keep it alive.
#[derive(Debug)]
pub(crate) struct OperationsCollector {
    pub(crate) collector: WeakCollector,
    /// Family names, built once: `{ns}_operations` and so on.
    names: [String; 5],
}

impl OperationsCollector {
    pub(crate) fn new(collector: WeakCollector, namespace: &str) -> Self {
        Self {
            collector,
            names: [
                format!("{namespace}_operations"),
                format!("{namespace}_operation_errors"),
                format!("{namespace}_operation_cancelled"),
                format!("{namespace}_operation_duration"),
                format!("{namespace}_build_info"),
            ],
        }
    }
}

impl Collector for OperationsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(collector) = self.collector.upgrade() else {
            return Ok(());
        };
        if super::writer::writes_by_hand(&collector) {
            // `MetricsCollector::encode_prometheus` writes these families itself.
            return Ok(());
        }
        // Read every entry's atomics once, then format without touching them again.
        let native = collector.native_mapper();
        let readings = Readings::take_with(&collector, native);
        let native_buckets = readings.native();
        let zero_threshold = native.map_or(0.0, |n| n.config().threshold());
        let bounds = collector.le_seconds();

        let [ops, errors, cancelled, duration, build] = &self.names;
        let counters: [(&str, &str, ReadCounter); 3] = [
            (ops, HELP_OPERATIONS, |r| r.count),
            (errors, HELP_ERRORS, |r| r.errors),
            (cancelled, HELP_CANCELLED, |r| r.cancelled),
        ];
        for (name, help, value) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (operation, reading, _) in readings.iter() {
                let labels = [("operation", operation)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&value(reading), None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            duration,
            HELP_DURATION,
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(bounds.len() + 1);
        for (i, (operation, reading, counts)) in readings.iter().enumerate() {
            buckets.clear();
            buckets.extend(
                bounds
                    .iter()
                    .copied()
                    .chain(std::iter::once(f64::INFINITY))
                    .zip(counts.iter().copied()),
            );
            let labels = [("operation", operation)];
            let mut metric = family.encode_family(&labels)?;
            match native_buckets.and_then(|n| n.get(i)) {
                // The text encoders write the classic buckets only.
                Some(native) => metric.encode_histogram_with_native::<NoLabelSet>(
                    reading.sum_seconds,
                    reading.count,
                    &buckets,
                    None,
                    NativeHistogram {
                        schema: native.schema,
                        zero_threshold,
                        zero_count: native.zero_count,
                        negative: NativeHistogramBuckets {
                            spans: &[],
                            deltas: &[],
                        },
                        positive: NativeHistogramBuckets {
                            spans: native.spans,
                            deltas: native.deltas,
                        },
                        created: None,
                    },
                )?,
                None => metric.encode_histogram::<NoLabelSet>(
                    reading.sum_seconds,
                    reading.count,
                    &buckets,
                    None,
                )?,
            }
        }

        let mut family = encoder.encode_descriptor(build, HELP_BUILD, None, MetricType::Gauge)?;
        let labels = [("version", env!("CARGO_PKG_VERSION"))];
        family.encode_family(&labels)?.encode_gauge(&1i64)?;
        Ok(())
    }
}
