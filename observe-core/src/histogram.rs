//! A log-linear (HDR-style) latency histogram with fixed memory and lock-free recording.
//!
//! Durations are kept in units of 16 ns. Below `2^sub_bits` units the buckets are linear
//! (16 ns wide); above, every power of two is split into `2^(sub_bits - 1)` equal buckets,
//! so a bucket is never wider than `2^-(sub_bits - 1)` of its lower bound and a quantile
//! reported at the bucket's midpoint is within `2^-sub_bits` of the true value
//! (0.78 % at the default precision of 7 bits). The top bucket ends at `2^42` ns
//! (about 73 minutes); longer durations land in it and the exact maximum is kept apart.
//!
//! Counts are `u32` to halve the memory of an entry; the rare bucket that passes `2^31`
//! spills into a high word, in a second array allocated at that moment (see [`Counts`]).

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, fence};

use crossbeam_utils::Backoff;

/// Durations are recorded in units of `2^UNIT_SHIFT` nanoseconds.
const UNIT_SHIFT: u32 = 4;
/// Values (in units) at or above `2^TOP_BITS` are clamped into the last bucket.
const TOP_BITS: u32 = 38;
/// The window histograms keep this many buckets per power of two (`2^3`).
const COARSE_BITS_PER_OCTAVE: u32 = 3;

/// Lowest supported precision in significant bits.
pub(crate) const MIN_PRECISION: u8 = 4;
/// Highest supported precision in significant bits.
pub(crate) const MAX_PRECISION: u8 = 10;
/// The default precision in significant bits (quantiles within 0.78 %).
pub(crate) const DEFAULT_PRECISION: u8 = 7;

/// The bucket layout shared by every histogram of a collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    sub_bits: u32,
}

impl Layout {
    /// A layout with `precision` significant bits, which must lie in
    /// `MIN_PRECISION..=MAX_PRECISION` (checked by the builder).
    pub(crate) const fn new(precision: u8) -> Self {
        Self {
            sub_bits: precision as u32,
        }
    }

    #[inline]
    fn half(self) -> usize {
        1 << (self.sub_bits - 1)
    }

    /// Number of fine buckets.
    pub(crate) fn buckets(self) -> usize {
        self.half() * (TOP_BITS + 2 - self.sub_bits) as usize
    }

    /// Number of coarse buckets used by recent windows.
    pub(crate) fn coarse_buckets(self) -> usize {
        self.buckets() >> self.coarse_shift()
    }

    /// A coarse bucket is `2^coarse_shift` consecutive fine buckets.
    #[inline]
    pub(crate) fn coarse_shift(self) -> u32 {
        self.sub_bits - 1 - COARSE_BITS_PER_OCTAVE.min(self.sub_bits - 1)
    }

    /// The fine bucket of a duration in nanoseconds.
    #[inline]
    pub(crate) fn index(self, nanos: u64) -> usize {
        let units = (nanos >> UNIT_SHIFT).min((1 << TOP_BITS) - 1);
        let sub_count = 1u64 << self.sub_bits;
        if units < sub_count {
            return units as usize;
        }
        // `units >= 2^sub_bits`, so the highest set bit `k` is at least `sub_bits`.
        let k = 63 - units.leading_zeros();
        let shift = k - self.sub_bits + 1;
        self.half() * shift as usize + (units >> shift) as usize
    }

    /// The smallest duration (ns) that lands in fine bucket `idx`.
    pub(crate) fn lower_ns(self, idx: usize) -> u64 {
        let half = self.half();
        let j = idx / half;
        let units = if j < 2 {
            idx as u64
        } else {
            ((idx - half * (j - 1)) as u64) << (j - 1)
        };
        units << UNIT_SHIFT
    }

    /// The width (ns) of fine bucket `idx`.
    pub(crate) fn width_ns(self, idx: usize) -> u64 {
        let j = idx / self.half();
        let units = if j < 2 { 1 } else { 1u64 << (j - 1) };
        units << UNIT_SHIFT
    }

    /// The value reported for a quantile that falls in fine bucket `idx`.
    pub(crate) fn mid_ns(self, idx: usize) -> u64 {
        self.lower_ns(idx) + self.width_ns(idx) / 2
    }

    /// The value reported for a quantile that falls in coarse bucket `idx`.
    pub(crate) fn coarse_mid_ns(self, idx: usize) -> u64 {
        let first = idx << self.coarse_shift();
        let last = ((idx + 1) << self.coarse_shift()) - 1;
        let lower = self.lower_ns(first);
        let upper = self.lower_ns(last) + self.width_ns(last);
        lower + (upper - lower) / 2
    }
}

/// The top bit of a low word. It is set from the record that fills the word to `2^31`
/// until that record has moved the `2^31` into the high word: while it is set, the pair
/// of words does not say the count, and readers wait for the move.
const CARRY: u32 = 1 << 31;

/// A fixed array of atomic counters: 31 bits in a `u32` low word, and a high word that
/// is only allocated once some counter has passed `2^31`.
///
/// The record that fills a low word to `2^31` adds one to its high word, then takes the
/// `2^31` out of the low word. Between the two steps the low word's top bit is set, so a
/// reader can tell the moment apart and wait it out (nanoseconds): a read is never off by
/// `2^31`, however it falls between the steps. Recording is one relaxed `fetch_add` and a
/// compare; it never waits, except for the first record of a recent-window period, whose
/// checkpoint is a read.
#[derive(Debug)]
pub(crate) struct Counts {
    low: Box<[AtomicU32]>,
    high: OnceLock<Box<[AtomicU32]>>,
}

impl Counts {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            low: (0..len).map(|_| AtomicU32::new(0)).collect(),
            high: OnceLock::new(),
        }
    }

    /// Adds one to counter `idx` (which the caller keeps in bounds).
    #[inline]
    pub(crate) fn increment(&self, idx: usize) {
        if let Some(low) = self.low.get(idx)
            && low.fetch_add(1, Relaxed) == CARRY - 1
        {
            self.carry(idx, low);
        }
    }

    /// Moves `2^31` from counter `idx`'s low word into its high word.
    #[cold]
    fn carry(&self, idx: usize, low: &AtomicU32) {
        let len = self.low.len();
        let high = self
            .high
            .get_or_init(|| (0..len).map(|_| AtomicU32::new(0)).collect());
        if let Some(high) = high.get(idx) {
            // Release: a reader that sees this high word also sees the low word full.
            high.fetch_add(1, Release);
        }
        // Release: a reader that sees the low word emptied also sees the high word.
        low.fetch_sub(CARRY, Release);
    }

    /// Counter `idx`'s high word, in units of `2^31`.
    fn high_word(&self, idx: usize) -> u64 {
        self.high
            .get()
            .and_then(|high| high.get(idx))
            .map_or(0, |word| u64::from(word.load(Acquire)))
    }

    /// Reads counter `idx` (in bounds), waiting out a carry in progress: the high word
    /// read the same before and after a settled low word is the one that goes with it.
    fn load(&self, idx: usize) -> u64 {
        let Some(low) = self.low.get(idx) else {
            return 0;
        };
        let backoff = Backoff::new();
        loop {
            let before = self.high_word(idx);
            let value = low.load(Acquire);
            if value & CARRY == 0 && self.high_word(idx) == before {
                return u64::from(value) + (before << 31);
            }
            backoff.snooze();
        }
    }

    /// `range` cut to the histogram.
    fn cut(&self, range: Range<usize>) -> Range<usize> {
        let end = range.end.min(self.low.len());
        range.start.min(end)..end
    }

    /// Folds the counters in `range` (cut to the histogram), each read once, in order.
    /// While no counter has ever passed `2^31` the low words are the counts: one pass,
    /// then a check that no carry began or ended meanwhile.
    fn fold<A>(
        &self,
        range: Range<usize>,
        init: impl Fn() -> A,
        mut step: impl FnMut(A, u64) -> A,
    ) -> A {
        let range = self.cut(range);
        if self.high.get().is_none() {
            let mut seen = 0;
            let acc = self.low[range.clone()].iter().fold(init(), |acc, word| {
                let value = word.load(Relaxed);
                seen |= value;
                step(acc, u64::from(value))
            });
            // A word read after a carry ended synchronizes with it here, so the high
            // words that carry allocated are seen below.
            fence(Acquire);
            if seen & CARRY == 0 && self.high.get().is_none() {
                return acc;
            }
        }
        range.fold(init(), |acc, idx| step(acc, self.load(idx)))
    }

    /// Reads every counter once.
    pub(crate) fn read(&self) -> Vec<u64> {
        let len = self.low.len();
        self.fold(
            0..len,
            || Vec::with_capacity(len),
            |mut out, value| {
                out.push(value);
                out
            },
        )
    }

    /// Adds the sum of each run of `2^coarse_shift` counters (one coarse bucket of
    /// `layout`) to `coarse`, modulo 2^32. `coarse` has one writer: a plain load and
    /// store, not an atomic add.
    pub(crate) fn add_coarse_into(&self, layout: Layout, coarse: &[AtomicU32]) {
        let run = 1 << layout.coarse_shift();
        for (idx, out) in coarse.iter().enumerate() {
            // Modulo 2^32 by design: the window subtracts checkpoints modulo 2^32.
            let sum = self.sum(idx * run..(idx + 1) * run) as u32;
            out.store(out.load(Relaxed).wrapping_add(sum), Relaxed);
        }
    }

    /// The sum of the counters in `range` (cut to the histogram).
    pub(crate) fn sum(&self, range: Range<usize>) -> u64 {
        let range = self.cut(range);
        if self.high.get().is_none() {
            // The loop of a scrape: one load and one add a counter.
            let sum: u64 = self.low[range.clone()]
                .iter()
                .map(|word| u64::from(word.load(Relaxed)))
                .sum();
            fence(Acquire);
            // Below 2^31 in all, no word had its top bit set.
            if sum < u64::from(CARRY) && self.high.get().is_none() {
                return sum;
            }
        }
        self.fold(range, || 0, |sum, value| sum + value)
    }

    /// Sets the counters in `range` (cut to the histogram) to zero and returns their sum:
    /// no add racing with it is lost, each is either in the sum or left in its counter.
    pub(crate) fn take(&self, range: Range<usize>) -> u64 {
        let range = self.cut(range);
        let mut taken = 0;
        for word in &self.low[range.clone()] {
            // Keeps the top bit: a carry in progress still takes its `2^31` out of the
            // low word, into the high word, which is taken next.
            let value = word.fetch_and(CARRY, AcqRel);
            taken += u64::from(value & !CARRY);
            if value & CARRY != 0 {
                let backoff = Backoff::new();
                while word.load(Acquire) & CARRY != 0 {
                    backoff.snooze();
                }
            }
        }
        if let Some(high) = self.high.get() {
            for word in &high[range] {
                taken += u64::from(word.swap(0, AcqRel)) << 31;
            }
        }
        taken
    }

    /// Sets every counter to zero.
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        self.take(0..self.low.len());
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let word = std::mem::size_of::<AtomicU32>();
        self.low.len() * word + self.high.get().map_or(0, |h| h.len() * word)
    }
}

/// The bucket holding the `q`-quantile (nearest rank) of `counts`, if any count is non-zero.
pub(crate) fn quantile_bucket(counts: &[u64], total: u64, q: f64) -> Option<usize> {
    if total == 0 {
        return None;
    }
    let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
    // Nearest rank: the smallest value with at least `ceil(q * n)` values at or below it.
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    for (idx, &count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(idx);
        }
    }
    counts.len().checked_sub(1)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, Barrier, mpsc};
    use std::time::Duration;

    use super::*;

    const LAYOUT: Layout = Layout::new(DEFAULT_PRECISION);

    #[test]
    fn default_layout_has_2112_buckets_and_264_coarse_ones() {
        assert_eq!(LAYOUT.buckets(), 2112);
        assert_eq!(LAYOUT.coarse_buckets(), 264);
    }

    #[test]
    fn indices_are_contiguous_and_bounds_contain_their_values() {
        for precision in MIN_PRECISION..=MAX_PRECISION {
            let layout = Layout::new(precision);
            let mut expected_next = 0u64;
            for idx in 0..layout.buckets() {
                let lower = layout.lower_ns(idx);
                assert_eq!(
                    lower, expected_next,
                    "bucket {idx} at precision {precision}"
                );
                assert_eq!(layout.index(lower), idx);
                let last = lower + layout.width_ns(idx) - 1;
                assert_eq!(layout.index(last), idx);
                expected_next = lower + layout.width_ns(idx);
            }
            assert_eq!(expected_next, 1 << (TOP_BITS + UNIT_SHIFT));
            assert_eq!(layout.index(u64::MAX), layout.buckets() - 1);
        }
    }

    #[test]
    fn bucket_width_is_bounded_relative_to_its_values() {
        // From 1 µs up, half a bucket is within 0.8 % of any value in it.
        for idx in 0..LAYOUT.buckets() {
            let lower = LAYOUT.lower_ns(idx);
            if lower >= 1_000 {
                let half_width = LAYOUT.width_ns(idx) as f64 / 2.0;
                assert!(half_width / lower as f64 <= 0.008, "bucket {idx}");
            }
        }
    }

    #[test]
    fn counts_carry_into_the_high_word() {
        let counts = Counts::new(2);
        counts.low[1].store(CARRY - 1, Relaxed);
        counts.increment(1);
        counts.increment(1);
        counts.increment(5); // out of bounds: ignored, no panic
        assert_eq!(counts.read(), vec![0, u64::from(CARRY) + 1]);
        assert_eq!(counts.low[1].load(Relaxed), 1, "the 2^31 moved out");
        assert_eq!(counts.sum(0..9), u64::from(CARRY) + 1, "a range is cut");
        assert_eq!(counts.sum(7..9), 0);
        counts.clear();
        assert_eq!(counts.read(), vec![0, 0]);
    }

    /// Runs `read` on another thread while counter 0 of `counts` is caught between the
    /// two steps of a carry, checks that it waits, then lets `finish` end the carry and
    /// returns what `read` saw. The thread is not joined: a reader that never answers
    /// fails the test instead of hanging it.
    fn read_across_a_carry(
        counts: &Arc<Counts>,
        read: fn(&Counts) -> u64,
        finish: impl FnOnce(&Counts),
    ) -> u64 {
        let (sent, seen) = mpsc::channel();
        let reader = Arc::clone(counts);
        std::thread::spawn(move || sent.send(read(&reader)));
        // A read that does not wait answers at once; one that waits cannot answer.
        let early = seen.recv_timeout(Duration::from_millis(50));
        assert!(early.is_err(), "answered during the carry: {early:?}");
        finish(counts);
        match seen.recv_timeout(Duration::from_secs(60)) {
            Ok(value) => value,
            other => panic!("no answer after the carry: {other:?}"),
        }
    }

    #[test]
    fn a_read_waits_out_a_carry_half_done() {
        for read in [
            (|c: &Counts| c.read()[0]) as fn(&Counts) -> u64,
            |c: &Counts| c.sum(0..1),
            |c: &Counts| {
                let coarse = [AtomicU32::new(0)];
                c.add_coarse_into(Layout::new(MIN_PRECISION), &coarse);
                u64::from(coarse[0].load(Relaxed))
            },
        ] {
            let counts = Arc::new(Counts::new(8));
            // The record that filled the low word has added to the high word and not yet
            // emptied the low one: the two words say 2 × 2^31 + 5.
            let high = counts
                .high
                .get_or_init(|| (0..8).map(|_| AtomicU32::new(0)).collect());
            high[0].store(1, Relaxed);
            counts.low[0].store(CARRY + 5, Relaxed);
            let finish = |c: &Counts| {
                c.low[0].fetch_sub(CARRY, Release);
            };
            let seen = read_across_a_carry(&counts, read, finish);
            assert_eq!(seen % (1 << 32), u64::from(CARRY) + 5);
        }
    }

    #[test]
    fn a_take_waits_out_a_carry_and_takes_all_of_it() {
        let counts = Arc::new(Counts::new(1));
        // The record that filled the low word has not moved the 2^31 yet.
        counts.low[0].store(CARRY + 3, Relaxed);
        let finish = |c: &Counts| c.carry(0, &c.low[0]);
        let taken = read_across_a_carry(&counts, |c| c.take(0..1), finish);
        assert_eq!(taken, u64::from(CARRY) + 3);
        assert_eq!(counts.read(), vec![0]);
    }

    #[test]
    fn reads_racing_a_carry_see_the_count_before_or_after_it() {
        let counts = Counts::new(1);
        let start = Barrier::new(2);
        // The last round whose record is in.
        let recorded = AtomicU64::new(0);
        let rounds = 20_000;
        // The first wrong reading; the rounds go on so that the other thread is not left
        // waiting at the barrier.
        let mut wrong = None;
        std::thread::scope(|s| {
            s.spawn(|| {
                for round in 1..=rounds {
                    start.wait();
                    counts.increment(0);
                    recorded.store(round, Release);
                }
            });
            for round in 1..=rounds {
                // `round - 1` carries so far; the record of this round makes one more.
                counts.low[0].store(CARRY - 1, Relaxed);
                let before = round * u64::from(CARRY) - 1;
                start.wait();
                // Reads for as long as the record takes, then once after it.
                loop {
                    let done = recorded.load(Acquire) == round;
                    let value = counts.sum(0..1);
                    let right = if done {
                        value == before + 1
                    } else {
                        value == before || value == before + 1
                    };
                    if !right && wrong.is_none() {
                        wrong = Some((round, before, value));
                    }
                    if done {
                        break;
                    }
                }
            }
        });
        assert_eq!(wrong, None, "(round, count before its record, read)");
    }

    #[test]
    fn quantile_bucket_uses_nearest_rank() {
        let counts = [2, 0, 3, 5];
        assert_eq!(quantile_bucket(&counts, 10, 0.0), Some(0));
        assert_eq!(quantile_bucket(&counts, 10, 0.2), Some(0));
        assert_eq!(quantile_bucket(&counts, 10, 0.21), Some(2));
        assert_eq!(quantile_bucket(&counts, 10, 0.5), Some(2));
        assert_eq!(quantile_bucket(&counts, 10, 1.0), Some(3));
        assert_eq!(quantile_bucket(&counts, 10, f64::NAN), Some(2));
        assert_eq!(quantile_bucket(&[0, 0], 0, 0.5), None);
    }
}
