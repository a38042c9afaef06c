//! One series of a family: its buckets, sum and exemplars.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use prometheus_client::metrics::histogram::Histogram;

use super::FamilyInner;
use crate::TraceContext;
use crate::engine::{Exemplar, Exemplars, Shared};

/// One series of a [`HistogramFamily`](super::HistogramFamily): a cheap [`Clone`]
/// handle that records without lookup.
#[derive(Clone, Debug)]
pub struct HistogramSeries {
    pub(super) inner: Arc<SeriesInner>,
}

#[derive(Debug)]
pub(super) struct SeriesInner {
    values: Box<[Box<str>]>,
    /// `a="x",b="y"`, escaped once.
    rendered: Box<str>,
    bounds: Arc<[f64]>,
    /// Per bucket, not cumulative; the last one is `+Inf`'s. Their sum is the count, so
    /// that a reader's count always equals its `+Inf` bucket.
    buckets: Box<[AtomicU64]>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
    /// `prometheus-client`'s histogram with native buckets, for the protobuf exposition.
    native: Option<Histogram>,
    exemplars: Exemplars,
    shared: Arc<Shared>,
}

/// What a writer reads of a series: each bucket's count (not cumulative, `+Inf` last)
/// and the sum.
pub(super) struct Reading<'a> {
    pub(super) sum: f64,
    pub(super) counts: &'a [u64],
}

impl Reading<'_> {
    /// The series' count: the sum of its buckets, so always its `+Inf` bucket.
    pub(super) fn count(&self) -> u64 {
        self.counts.iter().fold(0, |a, &c| a.wrapping_add(c))
    }
}

impl SeriesInner {
    pub(super) fn new(family: &FamilyInner, values: Box<[Box<str>]>) -> Self {
        let mut rendered = String::new();
        for (name, value) in family.label_names.iter().zip(&values) {
            if !rendered.is_empty() {
                rendered.push(',');
            }
            rendered.push_str(name);
            rendered.push_str("=\"");
            rendered.push_str(&crate::prometheus::writer::escape(value));
            rendered.push('"');
        }
        let native = family
            .native
            .map(|native| Histogram::new_classic_and_native(family.bounds.iter().copied(), native));
        Self {
            values,
            rendered: rendered.into(),
            bounds: Arc::clone(&family.bounds),
            buckets: (0..=family.bounds.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum: AtomicU64::new(0),
            native,
            exemplars: Exemplars::default(),
            shared: Arc::clone(&family.shared),
        }
    }

    pub(super) fn values(&self) -> &[Box<str>] {
        &self.values
    }

    pub(super) fn rendered(&self) -> &str {
        &self.rendered
    }

    pub(super) fn native(&self) -> Option<&Histogram> {
        self.native.as_ref()
    }

    /// Reads the counts into `counts` (cleared first).
    pub(super) fn read<'a>(&self, counts: &'a mut Vec<u64>) -> Reading<'a> {
        counts.clear();
        counts.extend(self.buckets.iter().map(|b| b.load(Relaxed)));
        Reading {
            sum: f64::from_bits(self.sum.load(Relaxed)),
            counts,
        }
    }

    /// The exemplar of each bucket, in bucket order (empty when none was ever kept).
    pub(super) fn exemplars(&self) -> impl Iterator<Item = Option<Exemplar>> + '_ {
        self.exemplars.all()
    }

    pub(super) fn wall_time(&self, at_ns: u64) -> std::time::SystemTime {
        self.shared.wall_time(at_ns)
    }

    /// Counts `value`; the index of its bucket.
    #[inline]
    fn observe(&self, value: f64) -> Option<usize> {
        if !value.is_finite() {
            return None;
        }
        // The first bucket whose boundary is at least `value`, as `prometheus-client`
        // places it; past the last boundary, `+Inf`.
        let index = self.bounds.partition_point(|&le| le < value);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Relaxed);
        }
        // A compare-exchange loop, as `prometheus-client`'s float counters add.
        let _ = self.sum.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + value).to_bits())
        });
        if let Some(native) = &self.native {
            native.observe(value);
        }
        Some(index)
    }
}

impl HistogramSeries {
    pub(super) fn new(inner: SeriesInner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Counts one observation. NaN and infinities are ignored: they would make the sum
    /// meaningless for good.
    #[inline]
    pub fn observe(&self, value: f64) {
        self.inner.observe(value);
    }

    /// Counts one observation that belongs to `trace`: if the trace is sampled, it
    /// becomes the exemplar of the observation's bucket, replacing the one before
    /// (unless another recorder is storing one there at this instant: then this one is
    /// dropped rather than waited for). Exemplar values keep nine decimals.
    #[inline]
    pub fn observe_traced(&self, value: f64, trace: &TraceContext) {
        let Some(index) = self.inner.observe(value) else {
            return;
        };
        if trace.is_sampled() {
            self.keep_exemplar(index, value, trace);
        }
    }

    /// Out of line, so that an unsampled trace costs a test.
    #[inline(never)]
    fn keep_exemplar(&self, index: usize, value: f64, trace: &TraceContext) {
        let inner = &self.inner;
        // Saturating: a negative value keeps 0.
        let value_ns = (value * 1e9).round() as u64;
        let at = inner.shared.clock.now_ns();
        inner
            .exemplars
            .store(inner.buckets.len(), index, trace, value_ns, at);
    }
}
