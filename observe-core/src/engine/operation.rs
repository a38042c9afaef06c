//! The stats of one operation, and [`OperationHandle`], which records into them
//! without any name lookup.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

use super::clock::Clock;
use super::exemplar::Exemplars;
use super::histogram::{Layout, quantile_bucket};
use super::stripe::{Merged, Record, Stripe, thread_stripe};
use super::sync::{AtomicU32, AtomicU64, OnceBox};
use super::timer::{OperationTimer, Timed};
use super::trace_context::TraceContext;
use super::window::{Checkpoint, Window};
use crate::views::{ExemplarSnapshot, OperationSnapshot, RecentSnapshot, percent};

/// Longest duration recorded as is (2^53 ns, about 104 days); longer ones are clamped,
/// so totals stay exact as floats and cannot wrap in practice.
pub(crate) const MAX_RECORDED_NS: u64 = 1 << 53;

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
    /// How many more operations may spread over stripes (a std atomic even under loom:
    /// the collector builds it).
    pub(crate) spread_budget: std::sync::atomic::AtomicUsize,
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

    /// The defaults of a collector, with `stripes`, a spread budget and a manual clock,
    /// for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(
        stripes: usize,
        budget: usize,
        clock: crate::engine::clock::ManualClock,
    ) -> Arc<Self> {
        let layout = Layout::new(crate::engine::histogram::DEFAULT_PRECISION);
        Arc::new(Self {
            layout,
            clock: Clock::from(clock),
            cancelled_is_error: true,
            window_length: Duration::from_secs(60),
            window_slots: 6,
            stripes,
            spread_budget: std::sync::atomic::AtomicUsize::new(budget),
            start_ns: 0,
            start_wall: SystemTime::now(),
            #[cfg(feature = "prometheus")]
            le: crate::prometheus::LeTable::new(layout, crate::prometheus::DEFAULT_BUCKETS),
        })
    }

    /// Takes one unit of the spread budget, if any is left and spreading can help.
    fn take_spread(&self) -> bool {
        self.stripes > 1
            && self
                .spread_budget
                .fetch_update(Relaxed, Relaxed, |left| left.checked_sub(1))
                .is_ok()
    }
}

/// The stats of one operation. Recording touches only atomics.
///
/// Lifetime counters (total, errors, cancelled, `le` counts) never go back;
/// [`reset`](Self::reset) moves a baseline that the JSON views subtract, so exporters can
/// stay monotonic: the fine histograms keep lifetime counts and a per-chunk base. Min,
/// max and the window serve only the JSON views and are cleared by a reset. What a
/// record writes lives in [`Stripe`]s: one, or one per core once recorders collide (see
/// [`crate::engine::stripe`]); the recent window is the operation's own, checkpointing the sum
/// of its stripes (its counts live in the first stripe's chunks).
///
/// `repr(C)` keeps the fields a lookup and a record read (the head of the name, the
/// shared configuration, the spread state, the window's current period) together at the
/// start, on one cache line with the rest of the header (128 bytes); the first stripe
/// fills the next line.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Operation {
    /// The first bytes of the name, zero-padded: a lookup compares a short name without
    /// touching the name's own allocation.
    name_head: [u8; NAME_HEAD],
    shared: Arc<Shared>,
    /// Collisions seen on the first stripe (below `SPREAD_AFTER`), or whether the
    /// operation spread (`SPREAD`) or stays on one stripe (`DECIDING`, `DENIED`).
    spread: AtomicU32,
    window: Window,
    name: Box<str>,
    /// The other stripes, allocated when a thread that maps to one first records into
    /// this operation after it spread (lock-free: two threads that race to create one
    /// both record into the one that wins).
    more: Box<[OnceBox<Stripe>]>,
    base_total_ns: AtomicU64,
    base_errors: AtomicU64,
    base_cancelled: AtomicU64,
    /// On a cache line of its own (the header above fills one).
    first: Stripe,
    // Cold: touched by rare events and sampled traces, after the first stripe.
    /// Log events seen inside the operation (by the `tracing` layer), per [`EventLevel`]:
    /// rare, so one counter each, not striped.
    events: [AtomicU64; EventLevel::COUNT],
    base_events: [AtomicU64; EventLevel::COUNT],
    /// Per exported bucket, the latest record with a sampled trace.
    exemplars: Exemplars,
}

/// The levels of log events counted per operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventLevel {
    Warn = 0,
    Error = 1,
}

impl EventLevel {
    pub(crate) const COUNT: usize = 2;
}

/// How many exemplars a snapshot lists.
const RECENT_EXEMPLARS: usize = 5;

/// The exemplar slots of a collector and the slot of a duration: one per exported `le`
/// bucket, or, without Prometheus, one per decade from 1 µs.
#[inline]
fn exemplar_bucket(shared: &Shared, ns: u64) -> (usize, usize) {
    #[cfg(feature = "prometheus")]
    {
        (shared.le.len(), shared.le.exact(ns))
    }
    #[cfg(not(feature = "prometheus"))]
    {
        let _ = shared;
        let decades = (ns / 1_000).checked_ilog10().map_or(0, |d| d as usize + 1);
        (12, decades.min(11))
    }
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
/// [`Operation::spread`]: the operation records into one stripe per core.
const SPREAD: u32 = SPREAD_AFTER;
/// [`Operation::spread`]: a recorder is taking the spread budget.
const DECIDING: u32 = u32::MAX - 1;
/// [`Operation::spread`]: no budget was left; the operation keeps one stripe.
const DENIED: u32 = u32::MAX;

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
        let window = Window::new(shared.layout, shared.window_length, shared.window_slots);
        Self {
            name: name.into(),
            name_head: head(name),
            first: Stripe::new(&shared, window.chunk_words()),
            more: (1..shared.stripes).map(|_| OnceBox::new()).collect(),
            spread: AtomicU32::new(0),
            window,
            base_total_ns: AtomicU64::new(0),
            base_errors: AtomicU64::new(0),
            base_cancelled: AtomicU64::new(0),
            events: std::array::from_fn(|_| AtomicU64::new(0)),
            base_events: std::array::from_fn(|_| AtomicU64::new(0)),
            exemplars: Exemplars::default(),
            shared,
        }
    }

    /// Counts one log event of `level` inside this operation.
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn count_event(&self, level: EventLevel) {
        self.events[level as usize].fetch_add(1, Relaxed);
    }

    /// The log events of `level` counted over the operation's lifetime (monotonic).
    #[cfg(all(feature = "tracing", feature = "prometheus"))]
    pub(crate) fn lifetime_events(&self, level: EventLevel) -> u64 {
        self.events[level as usize].load(Relaxed)
    }

    /// The log events of `level` since the last reset.
    fn events_since_reset(&self, level: EventLevel) -> u64 {
        let i = level as usize;
        self.events[i]
            .load(Relaxed)
            .saturating_sub(self.base_events[i].load(Relaxed))
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
        self.record_ns(
            u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            outcome,
        );
    }

    /// Records one operation of `ns` nanoseconds.
    #[inline]
    pub(crate) fn record_ns(&self, ns: u64, outcome: Outcome) {
        let shared = &*self.shared;
        let ns = ns.min(MAX_RECORDED_NS);
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
        // Before this record counts itself, so that a checkpoint it takes excludes it.
        self.window
            .tick(record.now, &self.first.histogram, |checkpoint| {
                self.checkpoint(checkpoint)
            });
        let spread = self.spread.load(Relaxed);
        if spread == SPREAD {
            self.spread_stripe().record(shared, record);
        } else if !self.first.record(shared, record) && spread < SPREAD_AFTER {
            self.collided(spread);
        }
    }

    /// Records one operation of `ns` nanoseconds that belongs to `trace`: a sampled
    /// trace is kept as the exemplar of the record's bucket.
    #[inline]
    pub(crate) fn record_traced(&self, ns: u64, outcome: Outcome, trace: &TraceContext) {
        self.record_ns(ns, outcome);
        if trace.is_sampled() {
            self.keep_exemplar(ns, trace);
        }
    }

    /// Stores `trace` as the exemplar of the bucket of `ns`: out of line, so that a
    /// record with an unsampled trace stays as small as one without.
    #[inline(never)]
    fn keep_exemplar(&self, ns: u64, trace: &TraceContext) {
        let ns = ns.min(MAX_RECORDED_NS);
        let (len, idx) = exemplar_bucket(&self.shared, ns);
        self.exemplars
            .store(len, idx, trace, ns, self.shared.clock.now_ns());
    }

    /// The exemplars of the exported buckets, in bucket order (empty when none was ever
    /// kept).
    #[cfg(feature = "prometheus")]
    pub(crate) fn exemplars(
        &self,
    ) -> impl Iterator<Item = Option<crate::engine::exemplar::Exemplar>> + '_ {
        self.exemplars.all()
    }

    /// Up to `max` exemplars recorded within the recent window at `now_ns`, slowest first.
    fn recent_exemplars(&self, now_ns: u64, max: usize) -> Vec<ExemplarSnapshot> {
        if self.exemplars.is_empty() {
            return Vec::new();
        }
        let window = u64::try_from(self.shared.window_length.as_nanos()).unwrap_or(u64::MAX);
        let since = now_ns.saturating_sub(window);
        let mut recent: Vec<_> = self
            .exemplars
            .all()
            .flatten()
            .filter(|e| e.at_ns >= since)
            .collect();
        recent.sort_unstable_by_key(|e| std::cmp::Reverse(e.value_ns));
        recent.truncate(max);
        recent
            .into_iter()
            .map(|e| ExemplarSnapshot {
                trace: e.trace,
                duration: Duration::from_nanos(e.value_ns),
                time: self.shared.wall_time(e.at_ns),
            })
            .collect()
    }

    /// Counts a collision on the first stripe; the one that reaches `SPREAD_AFTER` spreads
    /// the operation if the collector's budget allows. A lost race loses only a count.
    #[cold]
    fn collided(&self, seen: u32) {
        if seen + 1 < SPREAD_AFTER {
            let _ = self
                .spread
                .compare_exchange(seen, seen + 1, Relaxed, Relaxed);
        } else if self
            .spread
            .compare_exchange(seen, DECIDING, Relaxed, Relaxed)
            .is_ok()
        {
            let state = if self.shared.take_spread() {
                SPREAD
            } else {
                DENIED
            };
            self.spread.store(state, Relaxed);
        }
    }

    /// Stores the coarse counts of every stripe, added up, into `checkpoint`, chunk by
    /// chunk of the fine histograms (only the chunks some stripe has); returns the
    /// errors. Runs once per window period, on the period's first record.
    #[cold]
    fn checkpoint(&self, checkpoint: &Checkpoint<'_>) -> u64 {
        let layout = self.shared.layout;
        for k in 0..self.first.histogram.chunk_count() {
            if self.stripes().any(|s| s.histogram.has_chunk(k))
                && let Some(coarse) = checkpoint.chunk(k)
            {
                for stripe in self.stripes() {
                    stripe.histogram.add_coarse_chunk(layout, k, coarse);
                }
            }
        }
        self.stripes()
            .map(|stripe| stripe.hot.errors.load(Relaxed))
            .sum()
    }

    /// This thread's stripe of an operation that has spread.
    #[cold]
    fn spread_stripe(&self) -> &Stripe {
        match thread_stripe(self.more.len() + 1).checked_sub(1) {
            Some(i) => match self.more.get(i) {
                Some(slot) => match slot.get() {
                    Some(stripe) => stripe,
                    None => slot.get_or_init(|| Box::new(Stripe::new(&self.shared, 0))),
                },
                None => &self.first,
            },
            None => &self.first,
        }
    }

    /// Every stripe in use.
    fn stripes(&self) -> impl Iterator<Item = &Stripe> {
        std::iter::once(&self.first).chain(self.more.iter().filter_map(OnceBox::get))
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
        let merged = Merged::read(layout, self.stripes());
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
        let window = self.window.reading(
            &self.first.histogram,
            layout,
            now_ns,
            age,
            counts,
            merged.errors,
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
            exemplars: self.recent_exemplars(now_ns, RECENT_EXEMPLARS),
            warn_events: self.events_since_reset(EventLevel::Warn),
            error_events: self.events_since_reset(EventLevel::Error),
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
                p99: window
                    .p99_ns
                    .map(|ns| Duration::from_nanos(ns.clamp(min, max))),
            },
        }
    }

    /// Reads the lifetime counters once each, appending the `le` counts (not
    /// cumulative; the last is `+Inf`) to `buckets`. A [`reset`](Self::reset) leaves
    /// the lifetime counts alone, so this may run beside one, without a lock.
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

    /// Visits, in increasing fine-bucket index order, every non-zero fine bucket with
    /// its lifetime count, over every stripe: monotonic across [`reset`](Self::reset),
    /// and the same counts that [`read_lifetime`](Self::read_lifetime)'s `le` buckets
    /// add up. The
    /// bucket bounds are [`Layout::lower_ns`] and [`Layout::width_ns`] of
    /// [`Shared::layout`].
    #[cfg(feature = "prometheus")]
    pub(crate) fn for_each_lifetime_bucket(&self, mut f: impl FnMut(usize, u64)) {
        use crate::engine::histogram::{CHUNK, Counts};

        /// Reads (for the first histogram holding chunk `k`) or adds (for the others)
        /// its counts into `sums`, and the mask of those not zero into `mask`.
        fn take(counts: &Counts, k: usize, sums: &mut [u64; CHUNK], mask: &mut Option<u64>) {
            *mask = match *mask {
                None => counts.read_lifetime_chunk(k, sums),
                Some(m) => Some(m | counts.add_lifetime_chunk(k, sums).unwrap_or(0)),
            };
        }

        let buckets = self.shared.layout.buckets();
        let spread = self.more.iter().any(|stripe| stripe.get().is_some());
        // One buffer for every chunk; a chunk no stripe holds costs a load per stripe,
        // and only the counters that are not zero are visited.
        let mut sums = [0; CHUNK];
        for k in 0..self.first.histogram.chunk_count() {
            let mut mask = None;
            take(&self.first.histogram, k, &mut sums, &mut mask);
            if spread {
                for stripe in self.more.iter().filter_map(OnceBox::get) {
                    take(&stripe.histogram, k, &mut sums, &mut mask);
                }
            }
            let Some(mut mask) = mask else { continue };
            let first = k * CHUNK;
            while mask != 0 {
                let i = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if first + i < buckets {
                    f(first + i, sums[i]);
                }
            }
        }
    }

    /// Count (in the fine bucket of `ns`), errors and total nanoseconds over the
    /// operation's lifetime, from the atomics a scrape reads (as `read_lifetime` does),
    /// for the models.
    #[cfg(all(test, loom))]
    pub(crate) fn lifetime_totals(&self, ns: u64) -> (u64, u64, u64) {
        let idx = self.shared.layout.index(ns);
        let count = self.stripes().map(|s| s.histogram.sum(idx..idx + 1)).sum();
        let sums = self.sums();
        (count, sums.errors, sums.total_ns)
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

    /// Restarts the JSON views; lifetime counters keep counting: the fine histograms
    /// keep their lifetime counts and store what they hold now as the base that the
    /// JSON views subtract (allocated by the first reset, per chunk held).
    pub(crate) fn reset(&self) {
        let sums = self.sums();
        self.base_total_ns.store(sums.total_ns, Relaxed);
        self.base_errors.store(sums.errors, Relaxed);
        self.base_cancelled.store(sums.cancelled, Relaxed);
        for (base, events) in self.base_events.iter().zip(&self.events) {
            base.store(events.load(Relaxed), Relaxed);
        }
        for stripe in self.stripes() {
            stripe.reset(&self.shared);
        }
        self.window.clear();
    }

    /// Bytes held by this entry, heap included.
    pub(crate) fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.more.len() * std::mem::size_of::<OnceBox<Stripe>>()
            + self.window.heap_bytes()
            + self.exemplars.heap_bytes()
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

    /// The operation behind this handle.
    #[cfg(feature = "tracing")]
    pub(crate) fn into_operation(self) -> Arc<Operation> {
        self.op
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

    /// Records one operation that belongs to `trace`: when the trace is sampled, it is
    /// kept as the exemplar of the record's histogram bucket (see
    /// [`TraceContext`](crate::TraceContext)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use observe_core::{MetricsCollector, Outcome, TraceContext};
    ///
    /// let collector = MetricsCollector::new();
    /// let checkout = collector.operation("checkout");
    /// let trace = TraceContext::from_traceparent(
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    /// ).unwrap();
    /// checkout.record_traced(Duration::from_millis(870), Outcome::Ok, &trace);
    /// let op = collector.get("checkout").unwrap();
    /// assert_eq!(op.exemplars[0].trace, trace);
    /// ```
    #[inline]
    pub fn record_traced(&self, duration: Duration, outcome: Outcome, trace: &TraceContext) {
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.op.record_traced(ns, outcome, trace);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use super::{DENIED, Operation, Outcome, SPREAD, SPREAD_AFTER, Shared};
    use crate::engine::clock::ManualClock;

    fn shared(stripes: usize) -> Arc<Shared> {
        shared_with(stripes, 1, ManualClock::new())
    }

    fn shared_with(stripes: usize, budget: usize, clock: ManualClock) -> Arc<Shared> {
        Shared::for_tests(stripes, budget, clock)
    }

    /// Records `each` operations of 1 ms from each of `threads` threads at once.
    fn record_from_threads(op: &Operation, threads: usize, each: u64, failed: bool) {
        let outcome = if failed { Outcome::Error } else { Outcome::Ok };
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    for _ in 0..each {
                        op.record(Duration::from_millis(1), outcome);
                    }
                });
            }
        });
    }

    #[test]
    #[cfg(feature = "prometheus")]
    fn lifetime_buckets_count_across_resets_in_increasing_order() {
        let shared = shared(2);
        let op = Operation::new("op", Arc::clone(&shared));
        for ms in [1, 1, 30, 200] {
            op.record(Duration::from_millis(ms), Outcome::Ok);
        }
        op.reset();
        op.record(Duration::from_millis(1), Outcome::Ok);
        op.record(Duration::from_micros(700), Outcome::Ok);
        let mut seen = Vec::new();
        op.for_each_lifetime_bucket(|idx, count| seen.push((idx, count)));
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
        let one_ms = shared.layout.index(1_000_000);
        assert!(seen.contains(&(one_ms, 3)), "{seen:?}");
        let total: u64 = seen.iter().map(|&(_, c)| c).sum();
        let mut buckets = Vec::new();
        assert_eq!(total, op.read_lifetime(&mut buckets).count);
        assert_eq!(total, 6);
    }

    #[test]
    fn the_spread_budget_caps_how_many_operations_spread() {
        let shared = shared_with(4, 1, ManualClock::new());
        let first = Operation::new("first", Arc::clone(&shared));
        let second = Operation::new("second", Arc::clone(&shared));
        for op in [&first, &second] {
            for _ in 0..SPREAD_AFTER {
                op.collided(op.spread.load(Relaxed));
            }
        }
        assert_eq!(first.spread.load(Relaxed), SPREAD);
        assert_eq!(second.spread.load(Relaxed), DENIED, "no budget was left");
        assert_eq!(shared.spread_budget.load(Relaxed), 0);

        record_from_threads(&second, 4, 5_000, true);
        assert_eq!(
            second.stripes().count(),
            1,
            "a denied operation keeps one stripe"
        );
        let snapshot = second.snapshot(0);
        assert_eq!((snapshot.count, snapshot.error_count), (20_000, 20_000));

        record_from_threads(&first, 4, 5_000, false);
        assert!(
            first.stripes().count() >= 2,
            "a spread operation takes stripes"
        );
        assert!(first.memory_bytes() > second.memory_bytes());
        assert_eq!(first.snapshot(0).count, 20_000);
    }

    #[test]
    fn one_stripe_per_core_is_never_a_reason_to_spend_budget() {
        let shared = shared_with(1, 5, ManualClock::new());
        let op = Operation::new("x", Arc::clone(&shared));
        for _ in 0..SPREAD_AFTER {
            op.collided(op.spread.load(Relaxed));
        }
        assert_eq!(op.spread.load(Relaxed), DENIED);
        assert_eq!(shared.spread_budget.load(Relaxed), 5);
    }

    #[test]
    fn the_recent_window_of_a_spread_operation_covers_every_stripe() {
        let clock = ManualClock::new();
        let op = Operation::new("x", shared_with(4, 1, clock.clone()));
        op.spread.store(SPREAD, Relaxed);
        let now = |c: &ManualClock| u64::try_from(c.now().as_nanos()).unwrap_or(u64::MAX);

        // Each period opens with one record, which takes the period's checkpoint alone:
        // records racing a checkpoint may land on either side of it (see `window`).
        clock.advance(Duration::from_secs(1));
        op.record(Duration::from_millis(1), Outcome::Ok);
        record_from_threads(&op, 4, 1_000, true);
        assert!(op.stripes().count() >= 2, "four threads share one stripe");
        clock.advance(Duration::from_secs(14));
        op.record(Duration::from_millis(1), Outcome::Ok);
        record_from_threads(&op, 4, 500, false);
        let snapshot = op.snapshot(now(&clock));
        assert_eq!(
            (snapshot.recent.count, snapshot.recent.error_count),
            (6_002, 4_000)
        );

        // At 65 s the window starts at 10 s: what came before, on every stripe, left it.
        clock.advance(Duration::from_secs(50));
        let snapshot = op.snapshot(now(&clock));
        assert_eq!(
            (snapshot.recent.count, snapshot.recent.error_count),
            (2_001, 0)
        );
        assert_eq!((snapshot.count, snapshot.error_count), (6_002, 4_000));
    }

    #[test]
    fn lifetime_buckets_are_visited_in_order_and_survive_a_reset() {
        let op = Operation::new("x", shared(4));
        op.spread.store(SPREAD, Relaxed);
        let layout = op.shared.layout;
        let durations = [3_000, 1_000_000, 1_000_000, 250_000_000];
        for &ns in &durations {
            op.record_ns(ns, Outcome::Ok);
        }
        op.reset();
        record_from_threads(&op, 2, 10, false); // 1 ms, on two stripes
        let mut seen = Vec::new();
        op.for_each_lifetime_bucket(|idx, count| seen.push((idx, count)));
        assert!(
            seen.windows(2).all(|w| w[0].0 < w[1].0),
            "in order: {seen:?}"
        );
        assert!(seen.iter().all(|&(_, count)| count > 0));
        let ms = layout.index(1_000_000);
        assert_eq!(
            seen,
            vec![
                (layout.index(3_000), 1),
                (ms, 22),
                (layout.index(250_000_000), 1)
            ]
        );
        assert!(
            layout.lower_ns(ms) <= 1_000_000
                && 1_000_000 < layout.lower_ns(ms) + layout.width_ns(ms)
        );
        assert_eq!(op.snapshot(0).count, 20, "the JSON views restarted");
        #[cfg(feature = "prometheus")]
        {
            let mut buckets = Vec::new();
            let lifetime = op.read_lifetime(&mut buckets);
            assert_eq!(lifetime.count, seen.iter().map(|&(_, c)| c).sum::<u64>());
        }
    }

    #[test]
    fn a_spread_operation_adds_its_stripes_up_exactly() {
        const THREADS: u64 = 6;
        const EACH: u64 = 10_000;
        let op = Operation::new("x", shared(4));
        op.spread.store(SPREAD, Relaxed);
        // The window's one checkpoint (the clock stays at 0), taken before the threads
        // race: records racing a checkpoint may land on either side of it.
        op.record(Duration::from_nanos(999), Outcome::Ok);
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

        let all = THREADS * EACH + 1;
        let cancelled = THREADS * EACH.div_ceil(7);
        let errors = THREADS * (EACH / 7 * 2 + 2) + cancelled;
        let total: u64 = 999 + (0..THREADS * EACH).map(|n| 1_000 + n).sum::<u64>();
        let snapshot = op.snapshot(0);
        assert_eq!(snapshot.count, all);
        assert_eq!(snapshot.cancelled_count, cancelled);
        assert_eq!(snapshot.error_count, errors);
        assert_eq!(snapshot.total, Duration::from_nanos(total));
        assert_eq!(snapshot.min, Duration::from_nanos(999));
        assert_eq!(
            snapshot.max,
            Duration::from_nanos(1_000 + THREADS * EACH - 1)
        );
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

/// Model checks of spreading over stripes (`--cfg loom`; see [`crate::engine::sync`]).
#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use super::{DECIDING, Operation, Outcome, SPREAD, SPREAD_AFTER, Shared};
    use crate::engine::clock::ManualClock;

    /// Two threads record twice each into an operation one collision short of spreading,
    /// while a reader adds the stripes up: no record is lost or counted twice, whatever
    /// stripe it lands on, and the operation takes the collector's budget at most once.
    #[test]
    fn stripe_spreading_under_contention() {
        crate::engine::sync::model(|| {
            let shared = Shared::for_tests(2, 2, ManualClock::new());
            let op = Arc::new(Operation::new("x", Arc::clone(&shared)));
            // The window's checkpoint and the first chunk, before the race.
            op.record(Duration::from_micros(1), Outcome::Ok);
            op.spread.store(SPREAD_AFTER - 1, Relaxed);
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let op = Arc::clone(&op);
                    loom::thread::spawn(move || {
                        op.record(Duration::from_micros(1), Outcome::Ok);
                        op.record(Duration::from_micros(1), Outcome::Error);
                    })
                })
                .collect();
            let seen = op.totals().count;
            assert!((1..=5).contains(&seen), "{seen}");
            for thread in threads {
                thread.join().expect("recorder");
            }
            let totals = op.totals();
            assert_eq!((totals.count, totals.errors), (5, 2));
            assert_eq!(totals.total_ns, 5_000);
            let spread = op.spread.load(Relaxed);
            assert_ne!(spread, DECIDING);
            let left = shared.spread_budget.load(Relaxed);
            assert_eq!(left, if spread == SPREAD { 1 } else { 2 }, "{spread}");
            assert_eq!(op.snapshot(0).count, 5);
        });
    }
}
