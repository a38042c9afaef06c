//! The `{namespace}_operation_events_total` family: the `WARN` and `ERROR` events counted
//! inside each operation's spans.
//!
//! Registered once per collector, the first time a layer is built on it. Only the
//! operations with at least one such event have series: at most two per operation, so
//! the family is bounded by the collector's cap on names.

use crate::collector::MetricsCollector;

#[cfg(feature = "prometheus")]
pub(super) fn register(collector: &MetricsCollector) {
    /// Marks a collector whose family is registered.
    #[derive(Clone)]
    struct Registered;

    collector.extension(|| {
        let family = family::EventsCollector {
            collector: collector.downgrade(),
            name: format!("{}_operation_events", collector.namespace()),
        };
        collector.register_prometheus_collector(Box::new(family));
        Registered
    });
}

#[cfg(not(feature = "prometheus"))]
pub(super) fn register(_collector: &MetricsCollector) {}

#[cfg(feature = "prometheus")]
mod family {
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
    use prometheus_client::metrics::MetricType;

    use crate::collector::WeakCollector;
    use crate::engine::EventLevel;

    const HELP: &str = "Log events at WARN and ERROR emitted inside operations' spans.";

    /// Encodes the event counts of one collector's operations at scrape time.
    #[derive(Debug)]
    pub(in crate::tracing) struct EventsCollector {
        pub(in crate::tracing) collector: WeakCollector,
        pub(in crate::tracing) name: String,
    }

    impl Collector for EventsCollector {
        fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
            let Some(collector) = self.collector.upgrade() else {
                return Ok(());
            };
            let mut operations = collector.operations();
            operations.retain(|op| {
                op.lifetime_events(EventLevel::Warn) + op.lifetime_events(EventLevel::Error) > 0
            });
            if operations.is_empty() {
                return Ok(());
            }
            operations.sort_unstable_by(|a, b| a.name().cmp(b.name()));
            let mut family =
                encoder.encode_descriptor(&self.name, HELP, None, MetricType::Counter)?;
            for op in &operations {
                for (level, label) in [(EventLevel::Warn, "warn"), (EventLevel::Error, "error")] {
                    let labels = [("operation", op.name()), ("level", label)];
                    family
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&op.lifetime_events(level), None)?;
                }
            }
            Ok(())
        }
    }
}
