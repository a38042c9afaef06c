//! Labelled histograms of yours that the collector exposes with trace exemplars.
//!
//! `prometheus-client` keeps exemplars only in its own `HistogramWithExemplars`, which
//! takes a write lock on every observe and has no native buckets, and its `Exemplar`
//! cannot be built outside the crate, so no family of one's own can carry one. A
//! [`HistogramFamily`] is a labelled histogram whose series count in atomics and keep,
//! per bucket, the latest exemplar of a sampled trace in the same lock-free slots as the
//! operations (a recorder never waits to store one). The collector writes it by hand in
//! both text formats, exemplars only in OpenMetrics and only on `_bucket` lines, and
//! registers it on its registry for everything else: the protobuf exposition (with
//! native buckets when asked, without exemplars) and whoever encodes the registry
//! directly.

mod encode;
mod series;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};

use prometheus_client::metrics::histogram::NativeHistogramConfig;
use prometheus_client::registry::Unit;

pub use series::HistogramSeries;

use super::NativeHistograms;
use crate::collector::MetricsCollector;
use crate::engine::Shared;
use crate::error::BuildError;
use series::SeriesInner;

/// A labelled histogram family, exposed by a [`MetricsCollector`] with trace exemplars.
///
/// Its series count in atomics and keep, per bucket, the latest exemplar of a sampled
/// trace; the collector writes the family by hand in both text formats (exemplars only in
/// OpenMetrics, only on `_bucket` lines, as `prometheus-client` would write the same
/// histogram otherwise) and through `prometheus-client` in protobuf (native buckets when
/// asked, no exemplars) and on registries of your own.
///
/// `N` is the number of labels, so that a series is asked for with exactly as many
/// values ([`series`](Self::series)). A cheap [`Clone`] handle: clones share the series.
///
/// ```
/// use std::time::Duration;
/// use observe_core::{MetricsCollector, TraceContext};
/// use observe_core::prometheus::{ExpositionFormat, HistogramFamily};
/// use prometheus_client::registry::Unit;
///
/// let collector = MetricsCollector::builder().process_metrics(false).build()?;
/// let queue_wait = HistogramFamily::builder("shop_queue_wait", "Time a job waited")
///     .unit(Unit::Seconds)
///     .labels(["queue"])
///     .buckets(&[0.01, 0.1, 1.0])
///     .register(&collector)?;
///
/// let mail = queue_wait.series(["mail"]);
/// mail.observe(0.003);
/// let trace = TraceContext::from_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// ).expect("a valid header");
/// mail.observe_traced(0.4, &trace);
///
/// let text = collector.encode_prometheus(ExpositionFormat::OpenMetrics)?;
/// let bucket = text
///     .lines()
///     .find(|l| l.starts_with("shop_queue_wait_seconds_bucket{le=\"1.0\""))
///     .expect("the 1 s bucket");
/// let exemplar = "# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"}";
/// assert!(bucket.starts_with(&format!(
///     "shop_queue_wait_seconds_bucket{{le=\"1.0\",queue=\"mail\"}} 2 {exemplar} 0.4 "
/// )));
/// // Never in text 0.0.4, where Prometheus would fail the whole scrape.
/// let text = collector.encode_prometheus(ExpositionFormat::Prometheus)?;
/// assert!(text.contains("shop_queue_wait_seconds_bucket{le=\"1.0\",queue=\"mail\"} 2\n"));
/// assert!(!text.contains("trace_id"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct HistogramFamily<const N: usize> {
    inner: Arc<FamilyInner>,
}

/// What a family holds, shared with the collector that writes it.
#[derive(Debug)]
pub(crate) struct FamilyInner {
    /// The name without the unit, as `prometheus-client` takes it.
    base: Box<str>,
    /// The name with the unit, as exposed.
    name: Box<str>,
    /// With the period `Registry::register` appends to the help of its metrics.
    help: Box<str>,
    unit: Option<Unit>,
    label_names: Box<[Box<str>]>,
    bounds: Arc<[f64]>,
    /// The boundaries as `le` values, formatted once.
    les: Box<[Box<str>]>,
    native: Option<NativeHistogramConfig>,
    shared: Arc<Shared>,
    series: RwLock<Series>,
}

/// The series of a family, in creation order, and where each is by the hash of its
/// label values (so that a lookup builds no key).
#[derive(Debug, Default)]
struct Series {
    hasher: foldhash::fast::RandomState,
    by_hash: HashMap<u64, Vec<usize>>,
    all: Vec<HistogramSeries>,
}

impl Series {
    fn find(&self, hash: u64, values: &[&str]) -> Option<HistogramSeries> {
        let indices = self.by_hash.get(&hash)?;
        indices
            .iter()
            .filter_map(|&i| self.all.get(i))
            .find(|s| {
                s.inner
                    .values()
                    .iter()
                    .map(|v| &**v)
                    .eq(values.iter().copied())
            })
            .cloned()
    }
}

impl HistogramFamily<0> {
    /// Starts a family named `name` (the unit, if any, is appended as
    /// `prometheus-client` does) described by `help` (without a final period, which is
    /// added as for the registry's own metrics).
    pub fn builder(name: impl Into<String>, help: impl Into<String>) -> HistogramFamilyBuilder<0> {
        HistogramFamilyBuilder {
            name: name.into(),
            help: help.into(),
            unit: None,
            labels: [],
            buckets: super::DEFAULT_BUCKETS.to_vec(),
            native: None,
        }
    }
}

impl<const N: usize> HistogramFamily<N> {
    /// The series of these label values, created on first use. Label values are any
    /// text: they are escaped when written.
    ///
    /// A lookup hashes the values and takes a read lock: keep the series of a hot path
    /// (it is a cheap handle) rather than looking it up per record.
    #[must_use]
    pub fn series(&self, values: [&str; N]) -> HistogramSeries {
        self.inner.series(&values)
    }

    /// The family's name as exposed, unit included.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

impl FamilyInner {
    /// The name as exposed.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn series(&self, values: &[&str]) -> HistogramSeries {
        let hash = {
            let series = self.series.read().unwrap_or_else(|e| e.into_inner());
            let hash = series.hasher.hash_one(values);
            if let Some(found) = series.find(hash, values) {
                return found;
            }
            hash
        };
        let mut series = self.series.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have created it between the locks.
        if let Some(found) = series.find(hash, values) {
            return found;
        }
        let values: Box<[Box<str>]> = values.iter().map(|v| Box::from(*v)).collect();
        let created = HistogramSeries::new(SeriesInner::new(self, values));
        let index = series.all.len();
        series.all.push(created.clone());
        series.by_hash.entry(hash).or_default().push(index);
        created
    }

    /// Every series, in creation order (cheap handles, so that no lock is held while
    /// they are written).
    fn all_series(&self) -> Vec<HistogramSeries> {
        let series = self.series.read().unwrap_or_else(|e| e.into_inner());
        series.all.clone()
    }
}

/// Configures a [`HistogramFamily`]; `N` is the number of labels.
#[derive(Debug, Clone)]
#[must_use]
pub struct HistogramFamilyBuilder<const N: usize> {
    name: String,
    help: String,
    unit: Option<Unit>,
    labels: [String; N],
    buckets: Vec<f64>,
    native: Option<NativeHistograms>,
}

impl<const N: usize> HistogramFamilyBuilder<N> {
    /// The unit, appended to the name (`_seconds`) and written in OpenMetrics' `# UNIT`.
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }

    /// The label names, in the order they are written (after `le` on buckets, as
    /// `prometheus-client` writes them).
    pub fn labels<const M: usize>(self, names: [&str; M]) -> HistogramFamilyBuilder<M> {
        HistogramFamilyBuilder {
            name: self.name,
            help: self.help,
            unit: self.unit,
            labels: names.map(str::to_owned),
            buckets: self.buckets,
            native: self.native,
        }
    }

    /// The `le` boundaries (default [`DEFAULT_BUCKETS`](super::DEFAULT_BUCKETS)), checked
    /// as [`validate_buckets`](super::validate_buckets) does.
    pub fn buckets(mut self, bounds: &[f64]) -> Self {
        self.buckets = bounds.to_vec();
        self
    }

    /// Also keeps native buckets, exposed in the protobuf format beside the classic ones
    /// (`prometheus-client`'s native histogram with these settings; see
    /// [`NativeHistograms`]). The text formats stay classic.
    pub fn native(mut self, native: Option<NativeHistograms>) -> Self {
        self.native = native;
        self
    }

    /// Checks the configuration and registers the family on `collector`, which exposes
    /// it from then on.
    ///
    /// # Errors
    ///
    /// [`BuildError::Family`] for a name or label name that breaks the Prometheus naming
    /// rules (or the label `le`, which buckets use), a label named twice, or a name
    /// another family of this collector has; [`BuildError::Buckets`] for invalid
    /// boundaries. Nothing is registered then.
    pub fn register(self, collector: &MetricsCollector) -> Result<HistogramFamily<N>, BuildError> {
        let invalid = |reason: String| BuildError::Family {
            name: self.name.clone(),
            reason,
        };
        super::validate_namespace(&self.name).map_err(|r| invalid(format!("its name: {r}")))?;
        for (i, label) in self.labels.iter().enumerate() {
            super::validate_namespace(label)
                .map_err(|r| invalid(format!("label {label:?}: {r}")))?;
            if label == "le" {
                return Err(invalid("label \"le\" is the bucket boundary's".to_owned()));
            }
            if self.labels[..i].contains(label) {
                return Err(invalid(format!("label {label:?} is named twice")));
            }
        }
        super::validate_buckets(&self.buckets)?;
        let name = match &self.unit {
            Some(unit) => format!("{}_{}", self.name, unit.as_str()),
            None => self.name.clone(),
        };
        let inner = Arc::new(FamilyInner {
            base: self.name.as_str().into(),
            name: name.into(),
            help: format!("{}.", self.help).into(),
            unit: self.unit,
            label_names: self.labels.iter().map(|l| l.as_str().into()).collect(),
            les: self
                .buckets
                .iter()
                .map(|&le| dtoa::Buffer::new().format(le).into())
                .collect(),
            bounds: self.buckets.into(),
            native: self.native.map(native_config),
            shared: Arc::clone(collector.shared()),
            series: RwLock::default(),
        });
        collector
            .add_family(Arc::clone(&inner))
            .map_err(|()| invalid("the collector has a family of that name".to_owned()))?;
        collector.register_prometheus_collector(Box::new(encode::FamilyCollector::new(
            collector,
            Arc::clone(&inner),
        )));
        Ok(HistogramFamily { inner })
    }
}

/// `prometheus-client`'s configuration of the same native histograms: its schema only
/// goes down when the cap is passed, as the collector's does.
fn native_config(native: NativeHistograms) -> NativeHistogramConfig {
    NativeHistogramConfig::with_schema(native.schema())
        .zero_threshold(native.threshold())
        .max_buckets(native.bucket_cap())
}

pub(crate) use encode::write_families;
