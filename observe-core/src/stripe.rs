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
//! that records it, allocated once, on the record that first needs it. How many
//! operations of a collector may spread is capped
//! ([`MetricsCollectorBuilder::max_striped_operations`](crate::MetricsCollectorBuilder::max_striped_operations)),
//! so the memory they add is bounded whatever the load.

use std::cell::Cell;
#[cfg(feature = "prometheus")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crossbeam_utils::CachePadded;

use crate::histogram::{Counts, Layout};
use crate::operation::Shared;

/// The counters a record always writes, on a cache line of their own so that the
/// header of the operation (read by every recorder) and other stripes never share it.
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

/// Everything one record writes.
#[derive(Debug)]
pub(crate) struct Stripe {
    pub(crate) hot: CachePadded<Hot>,
    pub(crate) histogram: Counts,
    /// Per Prometheus `le` bucket, the records that landed in a fine bucket straddling
    /// a boundary (never reset; see [`crate::prometheus::LeTable`]).
    #[cfg(feature = "prometheus")]
    le_straddling: Box<[AtomicU64]>,
    /// Per `le` bucket, the fine counts that resets moved out of the histogram.
    #[cfg(feature = "prometheus")]
    le_reset: Box<[AtomicU64]>,
    /// Per fine bucket, the counts that resets moved out of the histogram: allocated by
    /// the first reset (stand-in until the chunked histogram keeps lifetime counts).
    #[cfg(feature = "prometheus")]
    fine_reset: OnceLock<Box<[AtomicU64]>>,
}

impl Stripe {
    pub(crate) fn new(shared: &Shared) -> Self {
        let layout = shared.layout;
        Self {
            hot: CachePadded::new(Hot {
                total_ns: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                cancelled: AtomicU64::new(0),
                min_ns: AtomicU64::new(u64::MAX),
                max_ns: AtomicU64::new(0),
                last_ns: AtomicU64::new(0),
            }),
            histogram: Counts::new(layout.buckets()),
            #[cfg(feature = "prometheus")]
            le_straddling: (0..shared.le.len()).map(|_| AtomicU64::new(0)).collect(),
            #[cfg(feature = "prometheus")]
            le_reset: (0..shared.le.len()).map(|_| AtomicU64::new(0)).collect(),
            #[cfg(feature = "prometheus")]
            fine_reset: OnceLock::new(),
        }
    }

    /// Records `r`; returns `false` if another core wrote this stripe meanwhile.
    #[inline]
    pub(crate) fn record(&self, shared: &Shared, r: Record) -> bool {
        #[cfg(not(feature = "prometheus"))]
        let _ = shared;
        let hot = &*self.hot;
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
    /// Must not run while [`add_le`](Self::add_le) reads this stripe: the counts it
    /// moves out of the histogram are, for a moment, in neither place.
    pub(crate) fn reset(&self, shared: &Shared) {
        self.take_counts(shared);
        self.restart_range(shared.layout);
    }

    /// Moves the counts out of the histogram with atomic swaps: a record landing
    /// meanwhile stays in its counter (and is exported from there).
    fn take_counts(&self, shared: &Shared) {
        #[cfg(feature = "prometheus")]
        {
            let fine_reset = self.fine_reset.get_or_init(|| {
                (0..shared.layout.buckets())
                    .map(|_| AtomicU64::new(0))
                    .collect()
            });
            for (run, moved) in shared.le.runs().iter().zip(self.le_reset.iter()) {
                let mut taken = 0;
                for fine in run.clone() {
                    let count = self.histogram.take(fine..fine + 1);
                    if count > 0 {
                        fine_reset[fine].fetch_add(count, Relaxed);
                    }
                    taken += count;
                }
                moved.fetch_add(taken, Relaxed);
            }
            // The straddling buckets are exported from `le_straddling`.
            for fine in (0..shared.layout.buckets()).filter(|&f| shared.le.straddles(f)) {
                let count = self.histogram.take(fine..fine + 1);
                if count > 0 {
                    fine_reset[fine].fetch_add(count, Relaxed);
                }
            }
        }
        #[cfg(not(feature = "prometheus"))]
        self.histogram.take(0..shared.layout.buckets());
    }

    /// Empties min, max and last-recorded, then widens min and max over what is still
    /// counted: a record that landed after [`take_counts`](Self::take_counts) but set
    /// its min and max before they were emptied. Summaries and quantiles read only the
    /// buckets between min and max, so such a record must stay inside them (to its
    /// bucket's lower bound). A record that lands after this scan sets min and max
    /// itself, after its count.
    fn restart_range(&self, layout: Layout) {
        let hot = &*self.hot;
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
        let parts = sums
            .iter_mut()
            .zip(runs)
            .zip(self.le_straddling.iter().zip(self.le_reset.iter()));
        for ((sum, run), (straddling, moved)) in parts {
            *sum +=
                self.histogram.sum(run.clone()) + straddling.load(Relaxed) + moved.load(Relaxed);
        }
    }

    /// Appends `(fine bucket, lifetime count)` for each non-zero fine bucket of this
    /// stripe, in increasing order: what the histogram holds and what resets moved out
    /// of it. Blocks of 64 buckets are summed first and skipped when empty, so an
    /// operation that keeps to a few buckets costs a few vectorised sums.
    #[cfg(feature = "prometheus")]
    pub(crate) fn add_fine_lifetime(&self, buckets: usize, out: &mut Vec<(usize, u64)>) {
        const BLOCK: usize = 64;
        let moved = self.fine_reset.get();
        let moved_at = |idx: usize| {
            moved
                .and_then(|m| m.get(idx))
                .map_or(0, |c| c.load(Relaxed))
        };
        for start in (0..buckets).step_by(BLOCK) {
            let end = (start + BLOCK).min(buckets);
            let any_moved = moved
                .and_then(|m| m.get(start..end))
                .is_some_and(|m| m.iter().any(|c| c.load(Relaxed) != 0));
            if !any_moved && self.histogram.sum(start..end) == 0 {
                continue;
            }
            for idx in start..end {
                let count = self.histogram.sum(idx..idx + 1) + moved_at(idx);
                if count > 0 {
                    out.push((idx, count));
                }
            }
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
        self.histogram.sum(layout.index(min)..layout.index(max) + 1)
    }

    /// Bytes held, heap included.
    pub(crate) fn memory_bytes(&self) -> usize {
        #[cfg(feature = "prometheus")]
        let le = (self.le_straddling.len()
            + self.le_reset.len()
            + self.fine_reset.get().map_or(0, |f| f.len()))
            * std::mem::size_of::<AtomicU64>();
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
    thread_local! {
        /// `(count, index)` of the last call.
        static LAST: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }
    let (last_count, index) = LAST.get();
    if last_count == count {
        return index;
    }
    let index = thread_number() % count.max(1);
    LAST.set((count, index));
    index
}

/// This thread's number, taken in turn on first use.
#[cold]
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: Cell<Option<usize>> = const { Cell::new(None) };
    }
    NUMBER.get().unwrap_or_else(|| {
        let number = NEXT.fetch_add(1, Relaxed);
        NUMBER.set(Some(number));
        number
    })
}

/// The fine counts and errors of several stripes, read once and added up.
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
            for (sum, count) in merged.counts.iter_mut().zip(stripe.histogram.read()) {
                *sum += count;
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Record, Stripe};
    use crate::clock::ManualClock;
    use crate::operation::Shared;

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
        let stripe = Stripe::new(&shared);
        record(&shared, &stripe, 1_000);
        // The record lands after the counts were taken and before min and max are
        // emptied: its own min and max are lost, its count is not.
        stripe.take_counts(&shared);
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
        let stripe = Stripe::new(&shared);
        record(&shared, &stripe, 5_000);
        stripe.reset(&shared);
        assert_eq!(stripe.count(shared.layout), 0);
        let hot = &*stripe.hot;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        assert_eq!(
            (hot.min_ns.load(relaxed), hot.max_ns.load(relaxed)),
            (u64::MAX, 0)
        );
    }
}
