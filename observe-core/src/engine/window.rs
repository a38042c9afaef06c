//! The recent behaviour of one operation, as checkpoints of its running counts (summed
//! over its [`Stripe`](crate::engine::stripe::Stripe)s).
//!
//! Health decisions need what happened in the last minute, not since start: a lifetime
//! error rate hides a fresh outage after a long uptime. Time is cut into periods of
//! `window / slots`; a slot holds a checkpoint of one period: the coarse latency
//! histogram (8 buckets per power of two, so a recent quantile is within 6.25 %) and
//! the error count as they stood when the period's first record arrived. What happened
//! since the window began is what is counted now minus the checkpoint of its oldest
//! period, so a record writes nothing here: only the first record of a period takes a
//! checkpoint (a read of the fine histogram, once per period). A period with no
//! checkpoint had no record, so the next checkpoint, or the counts of now, stand for its
//! start.
//!
//! Checkpoints race with recorders: a record that lands, on any stripe, while the first
//! record of its period takes the checkpoint (a read of every stripe's histogram, a
//! microsecond or two) may be counted in the previous period, and so leave the window
//! one period early; its error may be counted on the other side from its count. That
//! is a few records per period at most at any realistic rate. The lifetime figures are
//! exact whatever happens here.

use std::sync::atomic::{Ordering::AcqRel, Ordering::Acquire};
use std::sync::atomic::{Ordering::Relaxed, Ordering::Release};
use std::time::Duration;

use super::histogram::{CHUNK, Counts, Layout, quantile_bucket};
use super::sync::{AtomicU32, AtomicU64, fence};

/// Recent figures read from a window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct WindowReading {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    /// Length of time the reading covers.
    pub(crate) covered: Duration,
    pub(crate) p95_ns: Option<u64>,
    pub(crate) p99_ns: Option<u64>,
}

impl WindowReading {
    /// The reading of merged coarse counts and errors over `covered`.
    pub(crate) fn new(layout: Layout, merged: &[u64], errors: u64, covered: Duration) -> Self {
        let count = merged.iter().sum();
        Self {
            count,
            errors: errors.min(count),
            covered,
            p95_ns: quantile_bucket(merged, count, 0.95).map(|b| layout.coarse_mid_ns(b)),
            p99_ns: quantile_bucket(merged, count, 0.99).map(|b| layout.coarse_mid_ns(b)),
        }
    }
}

/// When one period started, and the errors counted then.
#[derive(Debug)]
struct Slot {
    /// `1 + now / slot_ns` of the period; 0 while unused or being written.
    epoch: AtomicU64,
    errors: AtomicU64,
}

/// Bits of [`Window::latest`] below the epoch (the builder allows 3,600 slots).
const SLOT_BITS: u32 = 12;
const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// The recent window of one operation.
///
/// The coarse counts of the checkpoints are kept per chunk of the fine histogram
/// ([`CHUNK`] fine buckets), inside the chunks of the operation's first stripe (the
/// `holder` of the methods below): `slots × per_chunk` counts (slot-major), modulo
/// 2^32 (a window never holds 2^32 records of one coarse bucket), allocated with the
/// chunk. The window holds only what its histogram has; a chunk the holder lacks
/// counted zero at every checkpoint the window holds, and a checkpoint that finds a
/// chunk only on another stripe creates it in the holder.
#[derive(Debug)]
pub(crate) struct Window {
    slots: Box<[Slot]>,
    /// Coarse buckets per fine chunk.
    per_chunk: usize,
    slot_ns: u64,
    /// The latest period a record reached, shifted left by `SLOT_BITS`: a record of the
    /// same period only compares its time with it.
    latest: AtomicU64,
}

/// The checkpoint being taken, handed to [`Window::tick`]'s `take`.
#[derive(Debug)]
pub(crate) struct Checkpoint<'a> {
    window: &'a Window,
    holder: &'a Counts,
    slot: usize,
}

impl Checkpoint<'_> {
    /// This checkpoint's coarse counts of fine chunk `k` (zeroed), the chunk created in
    /// the holder if it had none.
    pub(crate) fn chunk(&self, k: usize) -> Option<&[AtomicU32]> {
        let per = self.window.per_chunk;
        self.holder
            .window_or_create(k)?
            .get(self.slot * per..(self.slot + 1) * per)
    }
}

impl Window {
    pub(crate) fn new(layout: Layout, length: Duration, slots: usize) -> Self {
        let slots = slots.clamp(1, MAX_SLOTS);
        let slot_ns = (u64::try_from(length.as_nanos()).unwrap_or(u64::MAX) / slots as u64).max(1);
        Self {
            slots: (0..slots)
                .map(|_| Slot {
                    epoch: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                })
                .collect(),
            per_chunk: CHUNK >> layout.coarse_shift(),
            slot_ns,
            latest: AtomicU64::new(0),
        }
    }

    /// Words each chunk of the holder keeps for this window.
    pub(crate) fn chunk_words(&self) -> usize {
        self.slots.len() * self.per_chunk
    }

    fn epoch(&self, now_ns: u64) -> u64 {
        now_ns / self.slot_ns + 1
    }

    /// Called by every record ending at `now_ns`, before it counts itself: the first
    /// record of a period takes its checkpoint with `take`, which adds the coarse counts
    /// (modulo 2^32) of each fine chunk its histograms have into
    /// [`Checkpoint::chunk`] and returns the error count.
    #[inline]
    pub(crate) fn tick(
        &self,
        now_ns: u64,
        holder: &Counts,
        take: impl FnOnce(&Checkpoint<'_>) -> u64,
    ) {
        let latest = self.latest.load(Relaxed);
        let epoch = latest >> SLOT_BITS;
        // Epoch `e` covers `[(e - 1) * slot_ns, e * slot_ns)`.
        let start = epoch.wrapping_sub(1).wrapping_mul(self.slot_ns);
        if epoch == 0 || now_ns.wrapping_sub(start) >= self.slot_ns {
            self.begin_period(now_ns, latest, holder, take);
        }
    }

    #[cold]
    fn begin_period(
        &self,
        now_ns: u64,
        latest: u64,
        holder: &Counts,
        take: impl FnOnce(&Checkpoint<'_>) -> u64,
    ) {
        let epoch = self.epoch(now_ns);
        // An earlier period (a clock that went backwards, a late thread) changes nothing;
        // of the records that reach a new one, one takes the checkpoint.
        if epoch <= latest >> SLOT_BITS
            || epoch
                .checked_shl(SLOT_BITS)
                .is_none_or(|e| e >> SLOT_BITS != epoch)
            || self
                .latest
                .compare_exchange(latest, epoch << SLOT_BITS, AcqRel, Relaxed)
                .is_err()
        {
            return;
        }
        let index = (epoch % self.slots.len() as u64) as usize;
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        slot.epoch.store(0, Relaxed);
        // A seqlock's write: a reader that reads any count stored below sees the epoch
        // at 0 (or later) when it checks again after its acquire fence, and one that
        // sees the new epoch (release, acquire) sees every count stored below.
        fence(Release);
        let mine = index * self.per_chunk..(index + 1) * self.per_chunk;
        for k in 0..holder.chunk_count() {
            let words = holder.window(k).and_then(|w| w.get(mine.clone()));
            words
                .into_iter()
                .flatten()
                .for_each(|c| c.store(0, Relaxed));
        }
        let checkpoint = Checkpoint {
            window: self,
            holder,
            slot: index,
        };
        slot.errors.store(take(&checkpoint), Relaxed);
        slot.epoch.store(epoch, Release);
    }

    /// What happened within the window at `now_ns`, for an owner `age_ns` old, given its
    /// fine counts and errors as read now.
    pub(crate) fn reading(
        &self,
        holder: &Counts,
        layout: Layout,
        now_ns: u64,
        age_ns: u64,
        fine: &[u64],
        errors_now: u64,
    ) -> WindowReading {
        let covered = self.covered(now_ns, age_ns);
        let now_epoch = self.epoch(now_ns);
        let oldest = self.oldest(now_epoch);
        // The earliest checkpoint inside the window stands for the window's start.
        let mut start: Option<(u64, u64, Vec<u32>)> = None;
        for (index, slot) in self.slots.iter().enumerate() {
            let epoch = slot.epoch.load(Acquire);
            if epoch == 0
                || epoch < oldest
                || epoch > now_epoch
                || start.as_ref().is_some_and(|(e, ..)| *e <= epoch)
            {
                continue;
            }
            let mut coarse = vec![0u32; holder.chunk_count() * self.per_chunk];
            for k in 0..holder.chunk_count() {
                let Some(words) = holder.window(k) else {
                    continue;
                };
                let mine = words.get(index * self.per_chunk..(index + 1) * self.per_chunk);
                let out = coarse.get_mut(k * self.per_chunk..(k + 1) * self.per_chunk);
                if let (Some(mine), Some(out)) = (mine, out) {
                    out.iter_mut()
                        .zip(mine)
                        .for_each(|(o, c)| *o = c.load(Relaxed));
                }
            }
            let errors = slot.errors.load(Relaxed);
            // A checkpoint rewritten while we read it no longer belongs here.
            fence(Acquire);
            if slot.epoch.load(Relaxed) == epoch {
                start = Some((epoch, errors, coarse));
            }
        }
        let Some((_, start_errors, start_coarse)) = start else {
            return WindowReading::new(layout, &[], 0, covered);
        };
        let shift = layout.coarse_shift();
        let mut now_coarse = vec![0u64; start_coarse.len()];
        for (idx, &count) in fine.iter().enumerate() {
            if let Some(sum) = now_coarse.get_mut(idx >> shift) {
                *sum += count;
            }
        }
        let recent: Vec<u64> = now_coarse
            .into_iter()
            .zip(start_coarse)
            // Modulo 2^32, and never more than is counted now (a reset races a checkpoint).
            .map(|(now, then)| u64::from((now as u32).wrapping_sub(then)).min(now))
            .collect();
        WindowReading::new(
            layout,
            &recent,
            errors_now.saturating_sub(start_errors),
            covered,
        )
    }

    /// The length of time the window covers at `now_ns`, for an owner `age_ns` old.
    fn covered(&self, now_ns: u64, age_ns: u64) -> Duration {
        let oldest = self.oldest(self.epoch(now_ns));
        let window_start = (oldest - 1).saturating_mul(self.slot_ns);
        Duration::from_nanos(now_ns.saturating_sub(window_start).min(age_ns).max(1))
    }

    /// The oldest epoch still inside the window when the current one is `now_epoch`.
    fn oldest(&self, now_epoch: u64) -> u64 {
        now_epoch.saturating_sub(self.slots.len() as u64 - 1).max(1)
    }

    /// Forgets every checkpoint (the operation's counts were cleared).
    pub(crate) fn clear(&self) {
        self.latest.store(0, Relaxed);
        for slot in self.slots.iter() {
            slot.epoch.store(0, Relaxed);
        }
    }

    /// Heap bytes held (the coarse counts are the holder's).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::engine::histogram::{Counts, DEFAULT_PRECISION};

    const LAYOUT: Layout = Layout::new(DEFAULT_PRECISION);
    const SEC: u64 = 1_000_000_000;

    /// A window with the counts it checkpoints, recorded into as an operation does.
    struct Owner {
        window: Window,
        histogram: Counts,
        errors: AtomicU64,
    }

    impl Owner {
        fn new() -> Self {
            let window = Window::new(LAYOUT, Duration::from_secs(60), 6);
            Self {
                histogram: Counts::with_window(LAYOUT.buckets(), window.chunk_words()),
                window,
                errors: AtomicU64::new(0),
            }
        }

        fn record(&self, now: u64, ns: u64, failed: bool) {
            self.window.tick(now, &self.histogram, |checkpoint| {
                for k in 0..self.histogram.chunk_count() {
                    if self.histogram.has_chunk(k)
                        && let Some(coarse) = checkpoint.chunk(k)
                    {
                        self.histogram.add_coarse_chunk(LAYOUT, k, coarse);
                    }
                }
                self.errors.load(Relaxed)
            });
            self.histogram.increment(LAYOUT.index(ns));
            if failed {
                self.errors.fetch_add(1, Relaxed);
            }
        }

        fn read(&self, now: u64) -> WindowReading {
            let fine = self.histogram.read();
            let errors = self.errors.load(Relaxed);
            self.window
                .reading(&self.histogram, LAYOUT, now, now, &fine, errors)
        }
    }

    #[test]
    fn records_within_the_window_are_counted() {
        let o = Owner::new();
        o.record(SEC, 1_000_000, false);
        o.record(15 * SEC, 2_000, true);
        let r = o.read(20 * SEC);
        assert_eq!((r.count, r.errors), (2, 1));
        assert_eq!(r.covered, Duration::from_secs(20));
        let p95 = r.p95_ns.expect("a p95");
        assert!(p95.abs_diff(1_000_000) < 62_500, "{p95}");
    }

    #[test]
    fn records_older_than_the_window_leave_it() {
        let o = Owner::new();
        o.record(SEC, 3_000, true);
        o.record(55 * SEC, 3_000, false);
        let r = o.read(65 * SEC);
        assert_eq!((r.count, r.errors), (1, 0));
        let r = o.read(200 * SEC);
        assert_eq!((r.count, r.errors, r.p95_ns), (0, 0, None));
        // Five whole slots and the current one, just begun.
        assert_eq!(r.covered, Duration::from_secs(50));
        let r = o.read(209 * SEC);
        assert_eq!(r.covered, Duration::from_secs(59));
    }

    #[test]
    fn an_idle_spell_between_records_is_read_right() {
        let o = Owner::new();
        for t in [SEC, 12 * SEC, 13 * SEC] {
            o.record(t, 3_000, true);
        }
        // Nothing from 13 s to 300 s, then two records.
        o.record(300 * SEC, 3_000, false);
        o.record(301 * SEC, 3_000, false);
        assert_eq!(o.read(302 * SEC).count, 2);
        assert_eq!(o.read(302 * SEC).errors, 0);
        // Every checkpoint of the window is older than the records of the window's
        // first period: they count.
        assert_eq!(o.read(345 * SEC).count, 2);
        assert_eq!(o.read(365 * SEC).count, 0);
        // A window whose periods saw no record at all holds nothing.
        assert_eq!(o.read(100 * SEC).count, 0);
    }

    #[test]
    fn a_reused_slot_holds_the_later_period() {
        let o = Owner::new();
        o.record(SEC, 3_000, true);
        o.record(61 * SEC, 3_000, false); // same slot, a later period
        let r = o.read(61 * SEC);
        assert_eq!((r.count, r.errors), (1, 0));
    }

    #[test]
    fn a_clock_going_backwards_is_not_a_panic() {
        let o = Owner::new();
        o.record(61 * SEC, 3_000, false);
        o.record(SEC, 3_000, true);
        let r = o.read(61 * SEC);
        assert!(r.count <= 2 && r.errors <= 1);
        o.record(u64::MAX, 3_000, false);
        o.record(0, 3_000, false);
        let _ = o.read(u64::MAX);
    }

    #[test]
    fn clearing_forgets_the_checkpoints() {
        let o = Owner::new();
        o.record(SEC, 3_000, true);
        o.histogram.rebase();
        o.window.clear();
        assert_eq!(o.read(2 * SEC).count, 0);
        o.record(3 * SEC, 3_000, false);
        let r = o.read(4 * SEC);
        assert_eq!((r.count, r.errors), (1, 0));
    }
}

/// Model checks of the checkpoint (`--cfg loom`; see [`crate::engine::sync`]).
#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Layout, Window};
    use crate::engine::histogram::{Counts, MAX_PRECISION};

    /// One coarse bucket per chunk: the smallest checkpoint to explore.
    const LAYOUT: Layout = Layout::new(MAX_PRECISION);
    const SEC: u64 = 1_000_000_000;

    /// A record as an operation makes it: the checkpoint if it is the first of its
    /// period, then the count.
    fn record(window: &Window, counts: &Counts, now: u64, ns: u64) {
        window.tick(now, counts, |checkpoint| {
            for k in 0..counts.chunk_count() {
                if counts.has_chunk(k)
                    && let Some(coarse) = checkpoint.chunk(k)
                {
                    counts.add_coarse_chunk(LAYOUT, k, coarse);
                }
            }
            0
        });
        counts.increment(LAYOUT.index(ns));
    }

    /// A reader of one period reads its checkpoint while the first record of the next
    /// period rewrites that slot (a one-slot window): it uses the checkpoint whole, or
    /// skips it, never half rewritten; the record is counted once.
    #[test]
    fn the_window_checkpoint_against_concurrent_records() {
        crate::engine::sync::model(|| {
            let window = Arc::new(Window::new(LAYOUT, Duration::from_secs(1), 1));
            let counts = Arc::new(Counts::with_window(LAYOUT.buckets(), window.chunk_words()));
            // Two records before the first checkpoint, which then holds 2.
            counts.increment(LAYOUT.index(3_000));
            counts.increment(LAYOUT.index(3_000));
            record(&window, &counts, SEC / 2, 3_000);
            let fine = counts.read();
            let next = {
                let (window, counts) = (Arc::clone(&window), Arc::clone(&counts));
                loom::thread::spawn(move || record(&window, &counts, SEC + SEC / 2, 3_000))
            };
            let reading = window.reading(&counts, LAYOUT, SEC / 2 + 1, SEC, &fine, 0);
            // Since the checkpoint of 2, one record; or no checkpoint at all.
            assert!(reading.count <= 1, "{}", reading.count);
            next.join().expect("next period");
            assert_eq!(counts.sum(0..LAYOUT.buckets()), 4);
            let reading = window.reading(
                &counts,
                LAYOUT,
                SEC + SEC / 2 + 1,
                2 * SEC,
                &counts.read(),
                0,
            );
            assert_eq!(reading.count, 1);
        });
    }
}
