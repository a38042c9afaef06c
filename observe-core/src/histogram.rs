//! A log-linear (HDR-style) latency histogram with fixed memory and lock-free recording.
//!
//! Durations are kept in units of 16 ns. Below `2^sub_bits` units the buckets are linear
//! (16 ns wide); above, every power of two is split into `2^(sub_bits - 1)` equal buckets,
//! so a bucket is never wider than `2^-(sub_bits - 1)` of its lower bound and a quantile
//! reported at the bucket's midpoint is within `2^-sub_bits` of the true value
//! (0.78 % at the default precision of 7 bits). The top bucket ends at `2^42` ns
//! (about 73 minutes); longer durations land in it and the exact maximum is kept apart.
//!
//! Counts are `u32` to halve the memory of an entry; the rare bucket that passes
//! `u32::MAX` spills its high word into a second array allocated at that moment.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

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

/// A fixed array of atomic counters: `u32` words with a high word that is only
/// allocated once some counter has wrapped.
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
        if let Some(counter) = self.low.get(idx)
            && counter.fetch_add(1, Relaxed) == u32::MAX
        {
            self.carry(idx);
        }
    }

    #[cold]
    fn carry(&self, idx: usize) {
        let len = self.low.len();
        let high = self
            .high
            .get_or_init(|| (0..len).map(|_| AtomicU32::new(0)).collect());
        high[idx].fetch_add(1, Relaxed);
    }

    /// Reads every counter once.
    pub(crate) fn read(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .low
            .iter()
            .map(|c| u64::from(c.load(Relaxed)))
            .collect();
        if let Some(high) = self.high.get() {
            for (value, high) in out.iter_mut().zip(high.iter()) {
                *value += u64::from(high.load(Relaxed)) << 32;
            }
        }
        out
    }

    /// Adds the sum of each run of `2^coarse_shift` counters (one coarse bucket of
    /// `layout`) to `coarse`, modulo 2^32. `coarse` has one writer: a plain load and
    /// store, not an atomic add.
    pub(crate) fn add_coarse_into(&self, layout: Layout, coarse: &[AtomicU32]) {
        let run = 1 << layout.coarse_shift();
        for (out, chunk) in coarse.iter().zip(self.low.chunks(run)) {
            let sum = chunk.iter().fold(out.load(Relaxed), |sum, c| {
                sum.wrapping_add(c.load(Relaxed))
            });
            out.store(sum, Relaxed);
        }
    }

    /// The sum of the counters in `range` (cut to the histogram).
    pub(crate) fn sum(&self, range: Range<usize>) -> u64 {
        let low: u64 = self
            .low
            .get(range.clone())
            .unwrap_or_default()
            .iter()
            .map(|c| u64::from(c.load(Relaxed)))
            .sum();
        let high: u64 = self.high.get().map_or(0, |high| {
            high.get(range)
                .unwrap_or_default()
                .iter()
                .map(|c| u64::from(c.load(Relaxed)) << 32)
                .sum()
        });
        low + high
    }

    /// Sets the counters in `range` to zero and returns their sum: no add racing with
    /// it is lost, each is either in the sum or left in its counter.
    pub(crate) fn take(&self, range: Range<usize>) -> u64 {
        let low: u64 = self
            .low
            .get(range.clone())
            .unwrap_or_default()
            .iter()
            .map(|c| u64::from(c.swap(0, Relaxed)))
            .sum();
        let high: u64 = self.high.get().map_or(0, |high| {
            high.get(range)
                .unwrap_or_default()
                .iter()
                .map(|c| u64::from(c.swap(0, Relaxed)) << 32)
                .sum()
        });
        low + high
    }

    /// Sets every counter to zero.
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        for counter in self.low.iter() {
            counter.store(0, Relaxed);
        }
        if let Some(high) = self.high.get() {
            for counter in high.iter() {
                counter.store(0, Relaxed);
            }
        }
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
        counts.low[1].store(u32::MAX, Relaxed);
        counts.increment(1);
        counts.increment(1);
        counts.increment(5); // out of bounds: ignored, no panic
        assert_eq!(counts.read(), vec![0, u64::from(u32::MAX) + 2]);
        counts.clear();
        assert_eq!(counts.read(), vec![0, 0]);
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
