//! How a family is written: by hand into either text format (exemplars in OpenMetrics),
//! or through `prometheus-client` as a registered collector for the rest.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::FamilyInner;
use crate::collector::{MetricsCollector, WeakCollector};
use crate::prometheus::ExpositionFormat;
use crate::prometheus::writer::{write_exemplar, writes_text_by_hand};

/// Appends `families` to `out` in `format`, as `prometheus-client` would write them and
/// with, in OpenMetrics, each bucket's exemplar.
pub(crate) fn write_families(
    families: &[Arc<FamilyInner>],
    format: ExpositionFormat,
    out: &mut String,
) {
    let openmetrics = format == ExpositionFormat::OpenMetrics;
    let mut counts = Vec::new();
    let mut number = itoa::Buffer::new();
    let mut float = dtoa::Buffer::new();
    for family in families {
        let name = &*family.name;
        for line in [
            ["# HELP ", name, " ", &family.help],
            ["# TYPE ", name, " histogram", ""],
        ] {
            line.iter().for_each(|part| out.push_str(part));
            out.push('\n');
        }
        if let (true, Some(unit)) = (openmetrics, &family.unit) {
            for part in ["# UNIT ", name, " ", unit.as_str(), "\n"] {
                out.push_str(part);
            }
        }
        for series in family.all_series() {
            let series = &series.inner;
            let reading = series.read(&mut counts);
            let labels = series.rendered();
            let (open, close) = if labels.is_empty() {
                ("", "")
            } else {
                ("{", "}")
            };
            for part in [name, "_sum", open, labels, close, " "] {
                out.push_str(part);
            }
            out.push_str(float.format(reading.sum));
            out.push('\n');
            for part in [name, "_count", open, labels, close, " "] {
                out.push_str(part);
            }
            out.push_str(number.format(reading.count()));
            out.push('\n');
            // Exemplars only in OpenMetrics, only on buckets: Prometheus fails the whole
            // scrape for one in text 0.0.4 or on a `_count` line.
            let mut exemplars = openmetrics.then(|| series.exemplars());
            let mut cumulative = 0u64;
            let separator = if labels.is_empty() { "" } else { "," };
            for (i, &count) in reading.counts.iter().enumerate() {
                cumulative = cumulative.wrapping_add(count);
                let le = family.les.get(i).map_or("+Inf", |le| &**le);
                for part in [name, "_bucket{le=\"", le, "\"", separator, labels, "} "] {
                    out.push_str(part);
                }
                out.push_str(number.format(cumulative));
                if let Some(exemplar) = exemplars.as_mut().and_then(Iterator::next).flatten() {
                    write_exemplar(out, &exemplar, series.wall_time(exemplar.at_ns));
                }
                out.push('\n');
            }
        }
    }
}

/// A family on its collector's registry: silent while the collector writes it by hand
/// (the text formats), through `prometheus-client` otherwise (protobuf, registries of
/// the user's own, encodes of the registry itself). Holds the collector weakly, as the
/// registry inside it would otherwise keep it alive.
#[derive(Debug)]
pub(super) struct FamilyCollector {
    collector: WeakCollector,
    family: Arc<FamilyInner>,
}

impl FamilyCollector {
    pub(super) fn new(collector: &MetricsCollector, family: Arc<FamilyInner>) -> Self {
        Self {
            collector: collector.downgrade(),
            family,
        }
    }
}

impl Collector for FamilyCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(collector) = self.collector.upgrade()
            && writes_text_by_hand(&collector)
        {
            return Ok(());
        }
        let family = &self.family;
        let mut metrics = encoder.encode_descriptor(
            &family.base,
            &family.help,
            family.unit.as_ref(),
            MetricType::Histogram,
        )?;
        let mut counts = Vec::new();
        let mut buckets = Vec::new();
        for series in family.all_series() {
            let series = &series.inner;
            let labels: Vec<(&str, &str)> = family
                .label_names
                .iter()
                .zip(series.values())
                .map(|(name, value)| (&**name, &**value))
                .collect();
            let metric = metrics.encode_family(&labels)?;
            if let Some(native) = series.native() {
                // Classic and native buckets of the same observations.
                native.encode(metric)?;
                continue;
            }
            let reading = series.read(&mut counts);
            buckets.clear();
            let les = family.bounds.iter().copied().chain([f64::INFINITY]);
            buckets.extend(les.zip(reading.counts.iter().copied()));
            let mut metric = metric;
            metric.encode_histogram::<NoLabelSet>(reading.sum, reading.count(), &buckets, None)?;
        }
        Ok(())
    }
}
