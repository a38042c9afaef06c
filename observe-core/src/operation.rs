//! The stats of one operation, and [`OperationHandle`], which records into them
//! without any name lookup.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use crate::histogram::{Layout, quantile_bucket};
use crate::report::{OperationSnapshot, RecentSnapshot, percent};
use crate::stripe::{Merged, Record, Stripe, thread_stripe};
use crate::timer::{OperationTimer, Timed};
use crate::window::WindowReading;

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
    /// The most stripes an operation spreads over (one per core).
    pub(crate) stripes: usize,
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
/// Lifetime counters (total, errors, cancelled, `le` counts) never go back;
/// [`reset`](Self::reset) moves a baseline that the JSON views subtract, so exporters can
/// stay monotonic. The histogram, min, max and window serve only the JSON views and are
/// cleared by a reset. What a record writes lives in [`Stripe`]s: one, or one per core
/// once recorders collide (see [`crate::stripe`]).
///
/// `repr(C)` keeps the fields a lookup and a record read (the head of the name, the
/// shared configuration, the collision count) together at the start, on one cache line.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Operation {
    /// The first bytes of the name, zero-padded: a lookup compares a short name without
    /// touching the name's own allocation.
    name_head: [u8; NAME_HEAD],
    shared: Arc<Shared>,
    /// Collisions seen on the first stripe, up to `SPREAD_AFTER`.
    collisions: AtomicU32,
    name: Box<str>,
    first: Stripe,
    /// The other stripes, allocated when a thread that maps to one first records into
    /// this operation after it spread.
    more: Box<[OnceLock<Box<Stripe>>]>,
    base_total_ns: AtomicU64,
    base_errors: AtomicU64,
    base_cancelled: AtomicU64,
}

/// Bytes of a name kept in [`Operation::name_head`].
const NAME_HEAD: usize = 16;

/// `name`'s first [`NAME_HEAD`] bytes, zero-padded.
fn head(name: &str) -> [u8; NAME_HEAD] {
    let mut head = [0; NAME_HEAD];
    for (out, byte) in head.iter_mut().zip(name.bytes()) {
        *out = byte;
    }
    head
}

/// Collisions on the first stripe after which an operation spreads over more: a few, so
/// that one unlucky coincidence does not cost an operation a stripe per core.
const SPREAD_AFTER: u32 = 8;

/// Count, errors, total and longest duration since the last reset: what a summary
/// needs, without quantiles or windows.
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

/// Sums of the lifetime scalars over every stripe.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    total_ns: u64,
    errors: u64,
    cancelled: u64,
}

impl Operation {
    pub(crate) fn new(name: &str, shared: Arc<Shared>) -> Self {
        Self {
            name: name.into(),
            name_head: head(name),
            first: Stripe::new(&shared),
            more: (1..shared.stripes).map(|_| OnceLock::new()).collect(),
            collisions: AtomicU32::new(0),
            base_total_ns: AtomicU64::new(0),
            base_errors: AtomicU64::new(0),
            base_cancelled: AtomicU64::new(0),
            shared,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether this operation's name is `name`.
    #[inline]
    pub(crate) fn is_named(&self, name: &str) -> bool {
        // A byte loop, not a `memcmp` call: names are short.
        name.len() == self.name.len()
            && name.bytes().zip(self.name_head).all(|(a, b)| a == b)
            && (name.len() <= NAME_HEAD || *self.name == *name)
    }

    /// What every operation of its collector shares: the collector's identity.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    #[inline]
    pub(crate) fn record(&self, duration: Duration, outcome: Outcome) {
        let shared = &*self.shared;
        let ns = u64::try_from(duration.as_nanos())
            .unwrap_or(u64::MAX)
            .min(MAX_RECORDED_NS);
        let (failed, cancelled) = match outcome {
            Outcome::Ok => (false, false),
            Outcome::Error => (true, false),
            Outcome::Cancelled => (shared.cancelled_is_error, true),
        };
        let record = Record {
            ns,
            now: shared.clock.now_ns(),
            idx: shared.layout.index(ns),
            failed,
            cancelled,
        };
        if self.collisions.load(Relaxed) < SPREAD_AFTER {
            if !self.first.record(shared, record) {
                self.collisions.fetch_add(1, Relaxed);
            }
        } else {
            self.spread_stripe().record(shared, record);
        }
    }

    /// This thread's stripe of an operation that has spread.
    #[cold]
    fn spread_stripe(&self) -> &Stripe {
        match thread_stripe(self.more.len() + 1).checked_sub(1) {
            Some(i) => match self.more.get(i) {
                Some(slot) => slot.get_or_init(|| Box::new(Stripe::new(&self.shared))),
                None => &self.first,
            },
            None => &self.first,
        }
    }

    /// Every stripe in use.
    fn stripes(&self) -> impl Iterator<Item = &Stripe> {
        std::iter::once(&self.first).chain(self.more.iter().filter_map(|s| s.get().map(|b| &**b)))
    }

    fn sums(&self) -> Sums {
        self.stripes().fold(Sums::default(), |sums, stripe| Sums {
            total_ns: sums
                .total_ns
                .wrapping_add(stripe.hot.total_ns.load(Relaxed)),
            errors: sums.errors + stripe.hot.errors.load(Relaxed),
            cancelled: sums.cancelled + stripe.hot.cancelled.load(Relaxed),
        })
    }

    /// The shortest and longest durations since the last reset, over every stripe.
    fn min_max(&self) -> (u64, u64) {
        self.stripes().fold((u64::MAX, 0), |(min, max), stripe| {
            (
                min.min(stripe.hot.min_ns.load(Relaxed)),
                max.max(stripe.hot.max_ns.load(Relaxed)),
            )
        })
    }

    /// Reads every atomic once and computes the figures.
    pub(crate) fn snapshot(&self, now_ns: u64) -> OperationSnapshot {
        let layout = self.shared.layout;
        let merged = Merged::read(layout, now_ns, self.stripes());
        let counts = &merged.counts;
        let count: u64 = counts.iter().sum();
        let sums = self.sums();
        let total = sums
            .total_ns
            .saturating_sub(self.base_total_ns.load(Relaxed));
        let errors = sums
            .errors
            .saturating_sub(self.base_errors.load(Relaxed))
            .min(count);
        let cancelled = sums
            .cancelled
            .saturating_sub(self.base_cancelled.load(Relaxed))
            .min(count);
        let (min, max) = if count == 0 {
            (0, 0)
        } else {
            let (min, max) = self.min_max();
            (min.min(max), max)
        };
        let quantile = |q: f64| {
            quantile_bucket(counts, count, q).map_or(Duration::ZERO, |b| {
                Duration::from_nanos(layout.mid_ns(b).clamp(min, max))
            })
        };
        let last = self
            .stripes()
            .map(|s| s.hot.last_ns.load(Relaxed))
            .max()
            .unwrap_or(0);
        let age = now_ns.saturating_sub(self.shared.start_ns);
        let window = WindowReading::new(
            layout,
            &merged.recent_counts,
            merged.recent_errors,
            self.first.window.covered(now_ns, age),
        );
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
    /// cumulative; the last is `+Inf`) to `buckets`. Must not run during a
    /// [`reset`](Self::reset).
    #[cfg(feature = "prometheus")]
    pub(crate) fn read_lifetime(&self, buckets: &mut Vec<u64>) -> Lifetime {
        let start = buckets.len();
        buckets.resize(start + self.shared.le.len(), 0);
        let mine = &mut buckets[start..];
        for stripe in self.stripes() {
            stripe.add_le(&self.shared, mine);
        }
        let count = mine.iter().sum();
        let sums = self.sums();
        Lifetime {
            count,
            errors: sums.errors.min(count),
            cancelled: sums.cancelled.min(count),
            sum_seconds: sums.total_ns as f64 / 1e9,
        }
    }

    /// Count, errors, total and longest duration since the last reset, without
    /// quantiles or windows.
    pub(crate) fn totals(&self) -> Totals {
        let count = self.stripes().map(|s| s.count(self.shared.layout)).sum();
        let sums = self.sums();
        Totals {
            count,
            errors: sums
                .errors
                .saturating_sub(self.base_errors.load(Relaxed))
                .min(count),
            total_ns: sums
                .total_ns
                .saturating_sub(self.base_total_ns.load(Relaxed)),
            max_ns: if count == 0 { 0 } else { self.min_max().1 },
        }
    }

    /// Restarts the JSON views; lifetime counters keep counting. Must not run while
    /// [`read_lifetime`](Self::read_lifetime) does.
    pub(crate) fn reset(&self) {
        let sums = self.sums();
        self.base_total_ns.store(sums.total_ns, Relaxed);
        self.base_errors.store(sums.errors, Relaxed);
        self.base_cancelled.store(sums.cancelled, Relaxed);
        for stripe in self.stripes() {
            stripe.reset(&self.shared);
        }
    }

    /// Bytes held by this entry, heap included.
    pub(crate) fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.more.len() * std::mem::size_of::<OnceLock<Box<Stripe>>>()
            + self.stripes().map(Stripe::memory_bytes).sum::<usize>()
            - std::mem::size_of::<Stripe>()
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
    ///
    /// The timer borrows this handle, so starting and ending it touches no reference
    /// count; [`OperationTimer::into_owned`] makes one that outlives the borrow.
    #[inline]
    pub fn start_timer(&self) -> OperationTimer<'_> {
        OperationTimer::borrowing(&self.op)
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
        Timed::new(future, OperationTimer::owning(Arc::clone(&self.op)))
    }
}

impl std::fmt::Debug for OperationHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationHandle")
            .field("name", &self.op.name())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, SystemTime};

    use super::{Operation, Outcome, SPREAD_AFTER, Shared};
    use crate::clock::{Clock, ManualClock};
    use crate::histogram::{DEFAULT_PRECISION, Layout};

    fn shared(stripes: usize) -> Arc<Shared> {
        let layout = Layout::new(DEFAULT_PRECISION);
        Arc::new(Shared {
            layout,
            clock: Clock::from(ManualClock::new()),
            cancelled_is_error: true,
            window_length: Duration::from_secs(60),
            window_slots: 6,
            stripes,
            start_ns: 0,
            start_wall: SystemTime::now(),
            #[cfg(feature = "prometheus")]
            le: crate::prometheus::LeTable::new(layout, crate::prometheus::DEFAULT_BUCKETS),
        })
    }

    #[test]
    fn a_spread_operation_adds_its_stripes_up_exactly() {
        const THREADS: u64 = 6;
        const EACH: u64 = 10_000;
        let op = Operation::new("x", shared(4));
        op.collisions.store(SPREAD_AFTER, Relaxed);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let op = &op;
                scope.spawn(move || {
                    for i in 0..EACH {
                        let outcome = match i % 7 {
                            0 => Outcome::Cancelled,
                            1 | 2 => Outcome::Error,
                            _ => Outcome::Ok,
                        };
                        op.record(Duration::from_nanos(1_000 + t * EACH + i), outcome);
                    }
                });
            }
        });
        assert!(op.stripes().count() >= 2, "six threads share one stripe");

        let all = THREADS * EACH;
        let cancelled = THREADS * EACH.div_ceil(7);
        let errors = THREADS * (EACH / 7 * 2 + 2) + cancelled;
        let total: u64 = (0..all).map(|n| 1_000 + n).sum();
        let snapshot = op.snapshot(0);
        assert_eq!(snapshot.count, all);
        assert_eq!(snapshot.cancelled_count, cancelled);
        assert_eq!(snapshot.error_count, errors);
        assert_eq!(snapshot.total, Duration::from_nanos(total));
        assert_eq!(snapshot.min, Duration::from_nanos(1_000));
        assert_eq!(snapshot.max, Duration::from_nanos(1_000 + all - 1));
        assert_eq!(
            (snapshot.recent.count, snapshot.recent.error_count),
            (all, errors)
        );
        let totals = op.totals();
        assert_eq!(
            (totals.count, totals.errors, totals.total_ns),
            (all, errors, total)
        );

        op.reset();
        assert_eq!(op.snapshot(0).count, 0);
        op.record(Duration::from_millis(1), Outcome::Ok);
        assert_eq!(op.snapshot(0).count, 1);
        #[cfg(feature = "prometheus")]
        {
            let mut buckets = Vec::new();
            let lifetime = op.read_lifetime(&mut buckets);
            assert_eq!(lifetime.count, all + 1);
            assert_eq!(buckets.iter().sum::<u64>(), all + 1);
            assert_eq!(lifetime.errors, errors);
        }
    }
}
