//! What recording writes: one [`Stripe`] per operation, and more for an operation
//! that several cores record at once.
//!
//! Two cores adding to the same cache line take turns owning it, and every record
//! waits for the line to cross: on two cores a shared counter costs several times
//! what it costs on one. So an operation starts with one stripe and, once recorders
//! are seen to collide on it, spreads over up to one stripe per core (the way Java's
//! `LongAdder` spreads a counter). Readers add the stripes up.
//!
//! Collisions are seen for free: a record reads the total just before it adds to it,
//! and the add returns a different value only if another core wrote in between. An
//! operation that never collides keeps one stripe and its memory; one that does pays a
//! stripe (its fine histogram and a few counters, not a second recent window) per core
//! that records it, allocated once, on the record that first needs it; a stripe's
//! histogram starts empty and holds only the chunks that its own records reach. How many
//! operations of a collector may spread is capped
//! ([`MetricsCollectorBuilder::max_striped_operations`](crate::MetricsCollectorBuilder::max_striped_operations)),
//! so the memory they add is bounded whatever the load.

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;

use super::histogram::{Counts, Layout};
use super::operation::Shared;
use super::sync::{AtomicU64, AtomicUsize};

/// The counters a record always writes, at the start of its stripe's cache line.
#[derive(Debug)]
pub(crate) struct Hot {
    pub(crate) total_ns: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) min_ns: AtomicU64,
    pub(crate) max_ns: AtomicU64,
    /// `1 + clock.now_ns()` of the last record; 0 for never.
    pub(crate) last_ns: AtomicU64,
}

/// One record, as a stripe receives it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) ns: u64,
    pub(crate) now: u64,
    /// Fine histogram bucket of `ns`.
    pub(crate) idx: usize,
    pub(crate) failed: bool,
    pub(crate) cancelled: bool,
}

/// Everything one record writes, on a cache line of its own (128 bytes, as
/// `crossbeam_utils::CachePadded` on x86-64) so that the header of the operation (read by
/// every recorder) and other stripes never share it. The counters, the histogram's chunk
/// table pointer and the `le` pointer fit in one line.
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct Stripe {
    pub(crate) hot: Hot,
    pub(crate) histogram: Counts,
    /// Per Prometheus `le` bucket, the records that landed in a fine bucket straddling
    /// a boundary (never reset; see [`crate::prometheus::LeTable`]).
    #[cfg(feature = "prometheus")]
    le_straddling: Box<[AtomicU64]>,
}

impl Stripe {
    /// A stripe whose histogram chunks hold `window_words` words of the operation's
    /// recent window each (the first stripe's), or none (0).
    pub(crate) fn new(shared: &Shared, window_words: usize) -> Self {
        let layout = shared.layout;
        Self {
            hot: Hot {
                total_ns: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                cancelled: AtomicU64::new(0),
                min_ns: AtomicU64::new(u64::MAX),
                max_ns: AtomicU64::new(0),
                last_ns: AtomicU64::new(0),
            },
            histogram: Counts::with_window(layout.buckets(), window_words),
            #[cfg(feature = "prometheus")]
            le_straddling: (0..shared.le.len()).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records `r`; returns `false` if another core wrote this stripe meanwhile.
    #[inline]
    pub(crate) fn record(&self, shared: &Shared, r: Record) -> bool {
        #[cfg(not(feature = "prometheus"))]
        let _ = shared;
        let hot = &self.hot;
        // Another core's add between the load and ours shows in the value ours returns.
        let before = hot.total_ns.load(Relaxed);
        let alone = hot.total_ns.fetch_add(r.ns, Relaxed) == before;
        self.histogram.increment(r.idx);
        #[cfg(feature = "prometheus")]
        if shared.le.straddles(r.idx)
            && let Some(counter) = self.le_straddling.get(shared.le.exact(r.ns))
        {
            counter.fetch_add(1, Relaxed);
        }
        if r.ns < hot.min_ns.load(Relaxed) {
            hot.min_ns.fetch_min(r.ns, Relaxed);
        }
        if r.ns > hot.max_ns.load(Relaxed) {
            hot.max_ns.fetch_max(r.ns, Relaxed);
        }
        if r.cancelled {
            hot.cancelled.fetch_add(1, Relaxed);
        }
        if r.failed {
            hot.errors.fetch_add(1, Relaxed);
        }
        let stamp = r.now.saturating_add(1);
        if hot.last_ns.load(Relaxed) != stamp {
            hot.last_ns.store(stamp, Relaxed);
        }
        alone
    }

    /// Restarts the JSON views of this stripe; lifetime counters keep counting.
    ///
    /// The histogram's counts are lifetime counts: a reset only stores them as the base
    /// that the JSON views subtract, so a scrape may run beside it.
    pub(crate) fn reset(&self, shared: &Shared) {
        self.histogram.rebase();
        self.restart_range(shared.layout);
    }

    /// Empties min, max and last-recorded, then widens min and max over what is still
    /// counted: a record that landed after [`Counts::rebase`] but set
    /// its min and max before they were emptied. Summaries and quantiles read only the
    /// buckets between min and max, so such a record must stay inside them (to its
    /// bucket's lower bound). A record that lands after this scan sets min and max
    /// itself, after its count.
    fn restart_range(&self, layout: Layout) {
        let hot = &self.hot;
        hot.min_ns.store(u64::MAX, Relaxed);
        hot.max_ns.store(0, Relaxed);
        hot.last_ns.store(0, Relaxed);
        let counts = self.histogram.read();
        let first = counts.iter().position(|&c| c > 0);
        let last = counts.iter().rposition(|&c| c > 0);
        if let (Some(first), Some(last)) = (first, last) {
            hot.min_ns.fetch_min(layout.lower_ns(first), Relaxed);
            hot.max_ns.fetch_max(layout.lower_ns(last), Relaxed);
        }
    }

    /// Adds this stripe's lifetime count per `le` bucket (not cumulative; the last is
    /// `+Inf`) to `sums`.
    #[cfg(feature = "prometheus")]
    pub(crate) fn add_le(&self, shared: &Shared, sums: &mut [u64]) {
        let runs = shared.le.runs();
        let parts = sums.iter_mut().zip(runs).zip(self.le_straddling.iter());
        for ((sum, run), straddling) in parts {
            *sum += self.histogram.sum(run.clone()) + straddling.load(Relaxed);
        }
    }

    /// The records counted in the histogram, summing only the buckets between the
    /// shortest and longest durations seen: a summary stays cheap for operations that
    /// keep to a few powers of two.
    pub(crate) fn count(&self, layout: Layout) -> u64 {
        let min = self.hot.min_ns.load(Relaxed);
        let max = self.hot.max_ns.load(Relaxed);
        if min > max {
            return 0;
        }
        self.histogram
            .sum_since_reset(layout.index(min)..layout.index(max) + 1)
    }

    /// Bytes held, heap included.
    pub(crate) fn memory_bytes(&self) -> usize {
        #[cfg(feature = "prometheus")]
        let le = self.le_straddling.len() * std::mem::size_of::<AtomicU64>();
        #[cfg(not(feature = "prometheus"))]
        let le = 0;
        std::mem::size_of::<Self>() + self.histogram.heap_bytes() + le
    }
}

/// How many stripes an operation may spread over: one per core, at most 16.
pub(crate) fn stripe_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(16))
}

/// The stripe this thread records into, among `count`, once an operation is spread.
///
/// Threads take numbers in turn the first time they need one, so the first `count`
/// threads that record spread operations all land on different stripes. The index is
/// kept beside the count it was taken for: a record compares, it does not divide.
#[inline]
pub(crate) fn thread_stripe(count: usize) -> usize {
    #[cfg(not(loom))]
    thread_local! {
        /// `(count, index)` of the last call.
        static LAST: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }
    #[cfg(loom)]
    loom::thread_local! {
        static LAST: Cell<(usize, usize)> = Cell::new((0, 0));
    }
    let (last_count, index) = LAST.with(Cell::get);
    if last_count == count {
        return index;
    }
    let index = thread_number() % count.max(1);
    LAST.with(|last| last.set((count, index)));
    index
}

/// This thread's number, taken in turn on first use.
#[cold]
fn thread_number() -> usize {
    #[cfg(not(loom))]
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    #[cfg(not(loom))]
    thread_local! {
        static NUMBER: Cell<Option<usize>> = const { Cell::new(None) };
    }
    #[cfg(loom)]
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    #[cfg(loom)]
    loom::thread_local! {
        static NUMBER: Cell<Option<usize>> = Cell::new(None);
    }
    NUMBER.with(Cell::get).unwrap_or_else(|| {
        let number = NEXT.fetch_add(1, Relaxed);
        NUMBER.with(|n| n.set(Some(number)));
        number
    })
}

/// The fine counts since the last reset and the errors of several stripes, read once
/// and added up.
#[derive(Debug)]
pub(crate) struct Merged {
    pub(crate) counts: Vec<u64>,
    pub(crate) errors: u64,
}

impl Merged {
    pub(crate) fn read<'a>(layout: Layout, stripes: impl Iterator<Item = &'a Stripe>) -> Self {
        let mut merged = Self {
            counts: vec![0; layout.buckets()],
            errors: 0,
        };
        for stripe in stripes {
            merged.errors += stripe.hot.errors.load(Relaxed);
            stripe.histogram.add_since_reset_into(&mut merged.counts);
        }
        merged
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::{Record, Stripe};
    use crate::engine::clock::ManualClock;
    use crate::engine::operation::Shared;

    fn shared() -> Arc<Shared> {
        Shared::for_tests(1, 0, ManualClock::new())
    }

    fn record(shared: &Shared, stripe: &Stripe, ns: u64) {
        let r = Record {
            ns,
            now: 0,
            idx: shared.layout.index(ns),
            failed: false,
            cancelled: false,
        };
        stripe.record(shared, r);
    }

    #[test]
    fn a_record_caught_inside_a_reset_stays_counted() {
        let shared = shared();
        let stripe = Stripe::new(&shared, 0);
        record(&shared, &stripe, 1_000);
        // The record lands after the counts were taken and before min and max are
        // emptied: its own min and max are lost, its count is not.
        stripe.histogram.rebase();
        record(&shared, &stripe, 1_000_000_000);
        stripe.restart_range(shared.layout);
        assert_eq!(stripe.count(shared.layout), 1);

        record(&shared, &stripe, 2_000);
        assert_eq!(stripe.count(shared.layout), 2);
        let min = stripe.hot.min_ns.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(min, 2_000, "later records set min exactly");
    }

    #[test]
    fn a_reset_with_nothing_in_flight_leaves_min_and_max_empty() {
        let shared = shared();
        let stripe = Stripe::new(&shared, 0);
        record(&shared, &stripe, 5_000);
        stripe.reset(&shared);
        assert_eq!(stripe.count(shared.layout), 0);
        let hot = &stripe.hot;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        assert_eq!(
            (hot.min_ns.load(relaxed), hot.max_ns.load(relaxed)),
            (u64::MAX, 0)
        );
    }
}
