//! The stats of one operation, and [`OperationHandle`], which records into them
//! without any name lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use crate::histogram::{Counts, Layout, quantile_bucket};
use crate::report::{OperationSnapshot, RecentSnapshot, percent};
use crate::timer::{OperationTimer, Timed};
use crate::window::Window;

/// Longest duration recorded as is (2^53 ns, about 104 days); longer ones are clamped,
/// so totals stay exact as floats and cannot wrap in practice.
const MAX_RECORDED_NS: u64 = 1 << 53;

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed.
    Error,
    /// It was abandoned before it finished: a dropped timer or future. Counted in
    /// `cancelled_count`, and in `error_count` unless the collector was built with
    /// [`count_cancelled_as_error(false)`](crate::MetricsCollectorBuilder::count_cancelled_as_error).
    Cancelled,
}

impl Outcome {
    /// `Error` for an `Err`, `Ok` for an `Ok`.
    #[must_use]
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Ok
        } else {
            Self::Error
        }
    }
}

/// What every operation of a collector shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) layout: Layout,
    pub(crate) clock: Clock,
    pub(crate) cancelled_is_error: bool,
    pub(crate) window_length: Duration,
    pub(crate) window_slots: usize,
    /// `clock.now_ns()` when the collector was created.
    pub(crate) start_ns: u64,
    /// The wall-clock time matching `start_ns`.
    pub(crate) start_wall: SystemTime,
    /// Prometheus `le` boundaries and their lookup table.
    #[cfg(feature = "prometheus")]
    pub(crate) le: crate::prometheus::LeTable,
}

impl Shared {
    pub(crate) fn wall_time(&self, ns: u64) -> SystemTime {
        self.start_wall + Duration::from_nanos(ns.saturating_sub(self.start_ns))
    }
}

/// The stats of one operation. Recording touches only atomics.
///
/// Lifetime counters (`total_ns`, `errors`, `cancelled`) never go back; [`reset`](Self::reset)
/// moves a baseline that the JSON views subtract, so exporters can stay monotonic. The
/// histogram, min, max and window serve only the JSON views and are cleared by a reset.
#[derive(Debug)]
pub(crate) struct Operation {
    name: Box<str>,
    shared: Arc<Shared>,
    histogram: Counts,
    total_ns: AtomicU64,
    errors: AtomicU64,
    cancelled: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
    /// `1 + clock.now_ns()` of the last record; 0 for never.
    last_ns: AtomicU64,
    window: Window,
    base_total_ns: AtomicU64,
    base_errors: AtomicU64,
    base_cancelled: AtomicU64,
    /// Lifetime count per Prometheus `le` bucket (never reset).
    #[cfg(feature = "prometheus")]
    le_counts: Box<[AtomicU64]>,
    /// The lifetime count at the last reset.
    #[cfg(feature = "prometheus")]
    base_count: AtomicU64,
}

/// Count, errors, total and longest duration since the last reset: what a summary
/// needs, read without walking the histogram.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) total_ns: u64,
    pub(crate) max_ns: u64,
}

/// The lifetime figures of an operation, as exported to Prometheus: monotonic, whatever
/// [`reset`](crate::MetricsCollector::reset) does to the JSON views.
#[cfg(feature = "prometheus")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lifetime {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) cancelled: u64,
    pub(crate) sum_seconds: f64,
}

impl Operation {
    pub(crate) fn new(name: &str, shared: Arc<Shared>) -> Self {
        let layout = shared.layout;
        let window = Window::new(layout, shared.window_length, shared.window_slots);
        Self {
            name: name.into(),
            histogram: Counts::new(layout.buckets()),
            total_ns: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            window,
            base_total_ns: AtomicU64::new(0),
            base_errors: AtomicU64::new(0),
            base_cancelled: AtomicU64::new(0),
            #[cfg(feature = "prometheus")]
            le_counts: (0..shared.le.len()).map(|_| AtomicU64::new(0)).collect(),
            #[cfg(feature = "prometheus")]
            base_count: AtomicU64::new(0),
            shared,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    pub(crate) fn record(&self, duration: Duration, outcome: Outcome) {
        let ns = u64::try_from(duration.as_nanos())
            .unwrap_or(u64::MAX)
            .min(MAX_RECORDED_NS);
        let now = self.shared.clock.now_ns();
        let layout = self.shared.layout;
        let idx = layout.index(ns);
        self.histogram.increment(idx);
        #[cfg(feature = "prometheus")]
        if let Some(counter) = self.le_counts.get(self.shared.le.index(idx, ns)) {
            counter.fetch_add(1, Relaxed);
        }
        self.total_ns.fetch_add(ns, Relaxed);
        if ns < self.min_ns.load(Relaxed) {
            self.min_ns.fetch_min(ns, Relaxed);
        }
        if ns > self.max_ns.load(Relaxed) {
            self.max_ns.fetch_max(ns, Relaxed);
        }
        let failed = match outcome {
            Outcome::Ok => false,
            Outcome::Error => true,
            Outcome::Cancelled => {
                self.cancelled.fetch_add(1, Relaxed);
                self.shared.cancelled_is_error
            }
        };
        if failed {
            self.errors.fetch_add(1, Relaxed);
        }
        self.window
            .record(now, idx >> layout.coarse_shift(), failed);
        let stamp = now.saturating_add(1);
        if self.last_ns.load(Relaxed) != stamp {
            self.last_ns.store(stamp, Relaxed);
        }
    }

    /// Reads every atomic once and computes the figures.
    pub(crate) fn snapshot(&self, now_ns: u64) -> OperationSnapshot {
        let layout = self.shared.layout;
        let counts = self.histogram.read();
        let count: u64 = counts.iter().sum();
        let total = self
            .total_ns
            .load(Relaxed)
            .saturating_sub(self.base_total_ns.load(Relaxed));
        let errors = self
            .errors
            .load(Relaxed)
            .saturating_sub(self.base_errors.load(Relaxed))
            .min(count);
        let cancelled = self
            .cancelled
            .load(Relaxed)
            .saturating_sub(self.base_cancelled.load(Relaxed))
            .min(count);
        let (min, max) = if count == 0 {
            (0, 0)
        } else {
            let max = self.max_ns.load(Relaxed);
            (self.min_ns.load(Relaxed).min(max), max)
        };
        let quantile = |q: f64| {
            quantile_bucket(&counts, count, q).map_or(Duration::ZERO, |b| {
                Duration::from_nanos(layout.mid_ns(b).clamp(min, max))
            })
        };
        let last = self.last_ns.load(Relaxed);
        let age = now_ns.saturating_sub(self.shared.start_ns);
        let window = self.window.read(layout, now_ns, age);
        let covered = window.covered.as_secs_f64();
        OperationSnapshot {
            name: self.name.to_string(),
            count,
            error_count: errors,
            cancelled_count: cancelled,
            total: Duration::from_nanos(total),
            min: Duration::from_nanos(min),
            max: Duration::from_nanos(max),
            mean: Duration::from_nanos(total.checked_div(count).unwrap_or(0)),
            p50: quantile(0.50),
            p90: quantile(0.90),
            p95: quantile(0.95),
            p99: quantile(0.99),
            p999: quantile(0.999),
            last_recorded: (last != 0).then(|| self.shared.wall_time(last - 1)),
            recent: RecentSnapshot {
                window: window.covered,
                count: window.count,
                error_count: window.errors,
                rate_per_second: window.count as f64 / covered,
                error_rate: percent(window.errors, window.count),
                // A coarse bucket's midpoint may lie past the longest duration seen.
                p95: window
                    .p95_ns
                    .map(|ns| Duration::from_nanos(ns.clamp(min, max))),
            },
        }
    }

    /// Reads the lifetime counters once each, appending the `le` counts (not
    /// cumulative; the last is `+Inf`) to `buckets`.
    #[cfg(feature = "prometheus")]
    pub(crate) fn read_lifetime(&self, buckets: &mut Vec<u64>) -> Lifetime {
        let start = buckets.len();
        buckets.extend(self.le_counts.iter().map(|c| c.load(Relaxed)));
        let count = buckets[start..].iter().sum();
        Lifetime {
            count,
            errors: self.errors.load(Relaxed).min(count),
            cancelled: self.cancelled.load(Relaxed).min(count),
            sum_seconds: self.total_ns.load(Relaxed) as f64 / 1e9,
        }
    }

    /// Count, errors, total and longest duration since the last reset. With the
    /// `prometheus` feature the count comes from the few `le` counters; without, from
    /// the histogram.
    pub(crate) fn totals(&self) -> Totals {
        #[cfg(feature = "prometheus")]
        let count = self
            .le_counts
            .iter()
            .map(|c| c.load(Relaxed))
            .sum::<u64>()
            .saturating_sub(self.base_count.load(Relaxed));
        #[cfg(not(feature = "prometheus"))]
        let count = self.histogram.total();
        let since_reset = |value: &AtomicU64, base: &AtomicU64| {
            value.load(Relaxed).saturating_sub(base.load(Relaxed))
        };
        Totals {
            count,
            errors: since_reset(&self.errors, &self.base_errors).min(count),
            total_ns: since_reset(&self.total_ns, &self.base_total_ns),
            max_ns: if count == 0 {
                0
            } else {
                self.max_ns.load(Relaxed)
            },
        }
    }

    /// Restarts the JSON views; lifetime counters keep counting.
    pub(crate) fn reset(&self) {
        #[cfg(feature = "prometheus")]
        self.base_count.store(
            self.le_counts.iter().map(|c| c.load(Relaxed)).sum(),
            Relaxed,
        );
        self.base_total_ns
            .store(self.total_ns.load(Relaxed), Relaxed);
        self.base_errors.store(self.errors.load(Relaxed), Relaxed);
        self.base_cancelled
            .store(self.cancelled.load(Relaxed), Relaxed);
        self.histogram.clear();
        self.min_ns.store(u64::MAX, Relaxed);
        self.max_ns.store(0, Relaxed);
        self.last_ns.store(0, Relaxed);
        self.window.clear();
    }

    /// Bytes held by this entry, heap included.
    pub(crate) fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.histogram.heap_bytes()
            + self.window.heap_bytes()
            + self.le_bytes()
    }

    #[cfg(feature = "prometheus")]
    fn le_bytes(&self) -> usize {
        self.le_counts.len() * std::mem::size_of::<AtomicU64>()
    }

    #[cfg(not(feature = "prometheus"))]
    fn le_bytes(&self) -> usize {
        0
    }
}

/// A cheap, clonable handle on one operation that records without any name lookup.
///
/// Take one with [`MetricsCollector::operation`](crate::MetricsCollector::operation) and
/// keep it where the operation happens: recording through it touches only atomics.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
///
/// let collector = MetricsCollector::new();
/// let insert = collector.operation("db_insert");
///
/// insert.record(Duration::from_micros(250), false);
/// let timer = insert.start_timer();
/// // ... the insert ...
/// timer.end_ok();
///
/// assert_eq!(collector.get("db_insert").unwrap().count, 2);
/// ```
#[derive(Clone)]
pub struct OperationHandle {
    op: Arc<Operation>,
}

impl OperationHandle {
    pub(crate) fn new(op: Arc<Operation>) -> Self {
        Self { op }
    }

    /// The operation's name, as stored.
    #[must_use]
    pub fn name(&self) -> &str {
        self.op.name()
    }

    /// Records one operation that took `duration` and failed or not.
    #[inline]
    pub fn record(&self, duration: Duration, failed: bool) {
        let outcome = if failed { Outcome::Error } else { Outcome::Ok };
        self.op.record(duration, outcome);
    }

    /// Records one operation with an explicit [`Outcome`].
    #[inline]
    pub fn record_outcome(&self, duration: Duration, outcome: Outcome) {
        self.op.record(duration, outcome);
    }

    /// Starts a timer that records into this operation when ended or dropped.
    #[inline]
    pub fn start_timer(&self) -> OperationTimer {
        OperationTimer::from_operation(Arc::clone(&self.op))
    }

    /// Runs `f`, timing it; an `Err` counts as an error.
    pub fn time<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let timer = self.start_timer();
        let result = f();
        timer.end(&result);
        result
    }

    /// Times a future returning a `Result`: an `Err` counts as an error, and the future
    /// dropped before it completes counts as cancelled.
    pub fn time_async<F>(&self, future: F) -> Timed<F> {
        Timed::new(future, self.start_timer())
    }
}

impl std::fmt::Debug for OperationHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationHandle")
            .field("name", &self.op.name())
            .finish_non_exhaustive()
    }
}
