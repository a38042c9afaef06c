//! A log-linear (HDR-style) latency histogram with bounded memory and lock-free recording.
//!
//! Durations are kept in units of 16 ns. Below `2^sub_bits` units the buckets are linear
//! (16 ns wide); above, every power of two is split into `2^(sub_bits - 1)` equal buckets,
//! so a bucket is never wider than `2^-(sub_bits - 1)` of its lower bound and a quantile
//! reported at the bucket's midpoint is within `2^-sub_bits` of the true value
//! (0.78 % at the default precision of 7 bits). The top bucket ends at `2^42` ns
//! (about 73 minutes); longer durations land in it and the exact maximum is kept apart.
//!
//! The counters are allocated in chunks of 64 buckets (one power of two at the default
//! precision), each by the first record that lands in it: an operation holds only the
//! ranges its durations reach (see [`Counts`]). Counts are `u32` to halve the memory of
//! an entry; the rare bucket that passes `2^31` spills into a high word, in a second
//! array of its chunk allocated at that moment.

use std::ops::Range;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crossbeam_utils::Backoff;

use super::sync::{AtomicU32, AtomicU64, OnceBox, fence, spin};

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
    #[cfg(all(test, not(loom)))]
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

/// Fine buckets per chunk: one power of two at the default precision.
pub(crate) const CHUNK: usize = 64;
/// `log2(CHUNK)`.
const CHUNK_SHIFT: u32 = 6;

/// The chunk holding fine bucket `idx`, and the bucket's place in it.
#[inline]
pub(crate) const fn chunk_of(idx: usize) -> (usize, usize) {
    (idx >> CHUNK_SHIFT, idx & (CHUNK - 1))
}

/// The mask of the counts of a chunk that are not zero: bit `i` for `counts[i]`.
#[inline]
fn nonzero(counts: &[u64; CHUNK]) -> u64 {
    counts
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &count)| mask | (u64::from(count != 0) << i))
}

/// [`CHUNK`] consecutive counters: 31 bits each in a `u32` low word, and a high word
/// allocated once one of them passes `2^31`.
#[derive(Debug)]
struct Chunk {
    low: [AtomicU32; CHUNK],
    high: OnceBox<[AtomicU32; CHUNK]>,
    /// The recent window's checkpoints of this chunk, in the histogram of an
    /// operation's first stripe (see [`crate::engine::window`]); empty elsewhere.
    window: Box<[AtomicU32]>,
}

impl Chunk {
    fn new(window_words: usize) -> Self {
        Self {
            low: std::array::from_fn(|_| AtomicU32::new(0)),
            high: OnceBox::new(),
            window: (0..window_words).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Moves `2^31` from counter `i`'s low word into its high word.
    #[cold]
    fn carry(&self, i: usize) {
        let high = self
            .high
            .get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU32::new(0))));
        // Release: a reader that sees this high word also sees the low word full.
        high[i].fetch_add(1, Release);
        // Release: a reader that sees the low word emptied also sees the high word.
        self.low[i].fetch_sub(CARRY, Release);
    }

    /// Counter `i`'s high word, in units of `2^31`.
    fn high_word(&self, i: usize) -> u64 {
        self.high
            .get()
            .map_or(0, |high| u64::from(high[i].load(Acquire)))
    }

    /// Reads counter `i`'s lifetime count, waiting out a carry in progress: the high
    /// word read the same before and after a settled low word is the one that goes
    /// with it.
    fn load(&self, i: usize) -> u64 {
        let backoff = Backoff::new();
        loop {
            let before = self.high_word(i);
            let value = self.low[i].load(Acquire);
            if value & CARRY == 0 && self.high_word(i) == before {
                return u64::from(value) + (before << 31);
            }
            spin(&backoff);
        }
    }

    /// Reads the lifetime counts of `range` (within the chunk) into `out`, each once.
    /// While no counter of the chunk has ever passed `2^31` the low words are the
    /// counts: one pass, then a check that no carry began or ended meanwhile.
    fn read(&self, range: Range<usize>, out: &mut [u64; CHUNK]) {
        if self.high.get().is_none() {
            let mut seen = 0;
            for i in range.clone() {
                let value = self.low[i].load(Relaxed);
                seen |= value;
                out[i] = u64::from(value);
            }
            // A word read after a carry ended synchronizes with it here, so the high
            // words that carry allocated are seen below.
            fence(Acquire);
            if seen & CARRY == 0 && self.high.get().is_none() {
                return;
            }
        }
        for i in range {
            out[i] = self.load(i);
        }
    }

    /// Reads the counts since the last reset of `range` into `out`. The base is read
    /// first: a reader that sees a reset's base sees at least the counts it was taken
    /// from.
    fn read_since_reset(
        &self,
        base_words: Option<&Base>,
        range: Range<usize>,
        out: &mut [u64; CHUNK],
    ) {
        let mut base = [0; CHUNK];
        if let Some(words) = base_words {
            for i in range.clone() {
                base[i] = words[i].load(Acquire);
            }
        }
        self.read(range.clone(), out);
        for i in range {
            out[i] = out[i].saturating_sub(base[i]);
        }
    }
}

/// A chunk's counts at the last reset.
type Base = [AtomicU64; CHUNK];

/// A fixed array of atomic counters, allocated in [`CHUNK`]s: a chunk is created by the
/// first record that lands in it, so an operation holds only the ranges its durations
/// reach.
///
/// A record into an existing chunk is one acquire load of the chunk, one relaxed
/// `fetch_add` and a compare: no lock, no allocation. The record that finds its chunk
/// missing allocates one and publishes it with a compare-exchange; of two that race, the
/// loser frees its own and counts in the winner's, so no count is lost and nobody waits
/// (see [`OnceBox`]).
///
/// Counts are lifetime counts: they never go back. A reset stores, per chunk, the
/// counts it saw (allocated by the first reset), and the JSON views subtract them. Each
/// low word holds 31 bits; the record that fills one to `2^31` adds one to its high word
/// (a second array of the chunk, allocated at that moment), then takes the `2^31` out of
/// the low word. Between the two steps the low word's top bit is set, so a reader can
/// tell the moment apart and wait it out (nanoseconds): a read is never off by `2^31`,
/// however it falls between the steps. Recording never waits, except for the first
/// record of a recent-window period, whose checkpoint is a read.
#[derive(Debug)]
pub(crate) struct Counts {
    chunks: Box<[OnceBox<Chunk>]>,
    /// What the JSON views subtract: per chunk, each counter's lifetime count at the
    /// last reset; the table is allocated by the first reset, a chunk's part by the
    /// first reset that finds the chunk.
    bases: OnceBox<Box<[OnceBox<Base>]>>,
    len: usize,
    /// Words of recent-window checkpoints each chunk holds (0 but in a first stripe).
    window_words: usize,
}

impl Counts {
    /// Counters whose chunks hold no recent window.
    #[cfg(test)]
    pub(crate) fn new(len: usize) -> Self {
        Self::with_window(len, 0)
    }

    /// Counters whose chunks also hold `window_words` words of a recent window each.
    pub(crate) fn with_window(len: usize, window_words: usize) -> Self {
        Self {
            chunks: (0..len.div_ceil(CHUNK)).map(|_| OnceBox::new()).collect(),
            bases: OnceBox::new(),
            len,
            window_words,
        }
    }

    /// The recent-window words of chunk `k`, if the chunk exists and holds any.
    pub(crate) fn window(&self, k: usize) -> Option<&[AtomicU32]> {
        let chunk = self.chunks.get(k)?.get()?;
        (!chunk.window.is_empty()).then_some(&chunk.window[..])
    }

    /// The recent-window words of chunk `k`, creating the chunk if it is missing (a
    /// checkpoint of a chunk that only other stripes have).
    pub(crate) fn window_or_create(&self, k: usize) -> Option<&[AtomicU32]> {
        let chunk = self.create(self.chunks.get(k)?);
        (!chunk.window.is_empty()).then_some(&chunk.window[..])
    }

    /// Adds one to counter `idx` (which the caller keeps in bounds).
    #[inline]
    pub(crate) fn increment(&self, idx: usize) {
        let (k, i) = chunk_of(idx);
        let Some(slot) = self.chunks.get(k) else {
            return;
        };
        let chunk = match slot.get() {
            Some(chunk) => chunk,
            None => self.create(slot),
        };
        if chunk.low[i].fetch_add(1, Relaxed) == CARRY - 1 {
            chunk.carry(i);
        }
    }

    /// The chunk of `slot`, created by this record if no other has done so.
    #[cold]
    fn create<'a>(&self, slot: &'a OnceBox<Chunk>) -> &'a Chunk {
        slot.get_or_init(|| Box::new(Chunk::new(self.window_words)))
    }

    /// Chunk `k`'s counts at the last reset, if a reset found it.
    fn base(&self, k: usize) -> Option<&Base> {
        self.bases.get()?.get(k)?.get()
    }

    /// How many chunks the counters are cut into.
    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Whether chunk `k` exists (some record has landed in it).
    pub(crate) fn has_chunk(&self, k: usize) -> bool {
        self.chunks.get(k).is_some_and(|slot| slot.get().is_some())
    }

    /// The part of chunk `k` inside the counters (the last chunk may be cut).
    fn chunk_range(&self, k: usize) -> Range<usize> {
        0..self.len.saturating_sub(k * CHUNK).min(CHUNK)
    }

    /// Reads chunk `k`'s lifetime counts into `out` (zero past the counters) and returns
    /// the mask of those that are not zero (bit `i` for counter `i` of the chunk); `None`,
    /// leaving `out` as it was, if the chunk does not exist.
    #[allow(dead_code, reason = "the contract of the native histograms (protobuf)")]
    pub(crate) fn read_lifetime_chunk(&self, k: usize, out: &mut [u64; CHUNK]) -> Option<u64> {
        let chunk = self.chunks.get(k).and_then(OnceBox::get)?;
        let range = self.chunk_range(k);
        out[range.end..].fill(0);
        chunk.read(range, out);
        Some(nonzero(out))
    }

    /// Adds chunk `k`'s lifetime counts to `sums` and returns the mask of this
    /// histogram's counters of the chunk that are not zero; `None` if the chunk does not
    /// exist.
    #[allow(dead_code, reason = "the contract of the native histograms (protobuf)")]
    pub(crate) fn add_lifetime_chunk(&self, k: usize, sums: &mut [u64; CHUNK]) -> Option<u64> {
        let mut out = [0; CHUNK];
        let mask = self.read_lifetime_chunk(k, &mut out)?;
        sums.iter_mut().zip(out).for_each(|(sum, c)| *sum += c);
        Some(mask)
    }

    /// Adds the counts since the last reset to `sums` (as long as the counters).
    pub(crate) fn add_since_reset_into(&self, sums: &mut [u64]) {
        for (k, slot) in self.chunks.iter().enumerate() {
            let Some(chunk) = slot.get() else { continue };
            let range = self.chunk_range(k);
            let mut out = [0; CHUNK];
            chunk.read_since_reset(self.base(k), range.clone(), &mut out);
            let first = k * CHUNK;
            for (sum, c) in sums.iter_mut().skip(first).zip(&out[range]) {
                *sum += c;
            }
        }
    }

    /// Reads every counter's count since the last reset once.
    pub(crate) fn read(&self) -> Vec<u64> {
        let mut out = vec![0; self.len];
        self.add_since_reset_into(&mut out);
        out
    }

    /// Adds the sum of each run of `2^coarse_shift` counters of chunk `k` (one coarse
    /// bucket of `layout`), counted since the last reset, to `coarse`, modulo 2^32.
    /// `coarse` has one writer: a plain load and store, not an atomic add.
    pub(crate) fn add_coarse_chunk(&self, layout: Layout, k: usize, coarse: &[AtomicU32]) {
        let Some(chunk) = self.chunks.get(k).and_then(OnceBox::get) else {
            return;
        };
        let mut out = [0; CHUNK];
        chunk.read_since_reset(self.base(k), self.chunk_range(k), &mut out);
        let run = 1 << layout.coarse_shift();
        for (words, out) in out.chunks(run).zip(coarse) {
            // Modulo 2^32 by design: the window subtracts checkpoints modulo 2^32.
            let sum = words.iter().sum::<u64>() as u32;
            out.store(out.load(Relaxed).wrapping_add(sum), Relaxed);
        }
    }

    /// Visits, for each chunk in `range` of counters (cut to the counters), the part of
    /// it inside `range` read with `read`.
    fn fold_range(&self, range: Range<usize>, since_reset: bool) -> u64 {
        let end = range.end.min(self.len);
        let mut idx = range.start.min(end);
        let mut sum = 0;
        while idx < end {
            let (k, i) = chunk_of(idx);
            let stop = (end - k * CHUNK).min(CHUNK);
            if let Some(chunk) = self.chunks.get(k).and_then(OnceBox::get) {
                let mut out = [0; CHUNK];
                if since_reset {
                    chunk.read_since_reset(self.base(k), i..stop, &mut out);
                } else {
                    chunk.read(i..stop, &mut out);
                }
                sum += out[i..stop].iter().sum::<u64>();
            }
            idx = k * CHUNK + stop;
        }
        sum
    }

    /// The lifetime sum of the counters in `range` (cut to the counters).
    #[cfg(any(test, feature = "prometheus"))]
    pub(crate) fn sum(&self, range: Range<usize>) -> u64 {
        self.fold_range(range, false)
    }

    /// The sum of the counters in `range` since the last reset.
    pub(crate) fn sum_since_reset(&self, range: Range<usize>) -> u64 {
        self.fold_range(range, true)
    }

    /// Restarts the counts since reset: stores each counter's lifetime count as its
    /// base. A record racing it is counted either in the base or after it, never lost
    /// to the lifetime counts.
    pub(crate) fn rebase(&self) {
        let bases = self
            .bases
            .get_or_init(|| Box::new(self.chunks.iter().map(|_| OnceBox::new()).collect()));
        for (k, slot) in self.chunks.iter().enumerate() {
            let Some(chunk) = slot.get() else { continue };
            let Some(base) = bases.get(k) else { continue };
            let base = base.get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU64::new(0))));
            let mut out = [0; CHUNK];
            let range = self.chunk_range(k);
            chunk.read(range.clone(), &mut out);
            for i in range {
                // Release: a reader that sees this base sees the counts it was taken from.
                base[i].store(out[i], Release);
            }
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let table = self.chunks.len() * std::mem::size_of::<OnceBox<Chunk>>();
        let chunks: usize = self
            .chunks
            .iter()
            .filter_map(OnceBox::get)
            .map(|chunk| {
                std::mem::size_of::<Chunk>()
                    + chunk.window.len() * std::mem::size_of::<AtomicU32>()
                    + chunk
                        .high
                        .get()
                        .map_or(0, |_| std::mem::size_of::<[AtomicU32; CHUNK]>())
            })
            .sum();
        let bases = self.bases.get().map_or(0, |bases| {
            bases.len() * std::mem::size_of::<OnceBox<Base>>()
                + bases.iter().filter_map(OnceBox::get).count() * std::mem::size_of::<Base>()
        });
        table + chunks + bases
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

#[cfg(all(test, not(loom)))]
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

    impl Counts {
        /// Chunk `k`, created if missing.
        fn chunk(&self, k: usize) -> &Chunk {
            self.create(&self.chunks[k])
        }

        /// Chunk `k`'s high words, created if missing.
        fn high(&self, k: usize) -> &[AtomicU32; CHUNK] {
            self.chunk(k)
                .high
                .get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU32::new(0))))
        }
    }

    #[test]
    fn counts_carry_into_the_high_word() {
        let counts = Counts::new(2);
        counts.chunk(0).low[1].store(CARRY - 1, Relaxed);
        counts.increment(1);
        counts.increment(1);
        counts.increment(500); // out of bounds: ignored, no panic
        assert_eq!(counts.read(), vec![0, u64::from(CARRY) + 1]);
        assert_eq!(
            counts.chunk(0).low[1].load(Relaxed),
            1,
            "the 2^31 moved out"
        );
        assert_eq!(counts.sum(0..9), u64::from(CARRY) + 1, "a range is cut");
        assert_eq!(counts.sum(7..9), 0);
        counts.rebase();
        assert_eq!(counts.read(), vec![0, 0]);
        assert_eq!(
            counts.sum(0..2),
            u64::from(CARRY) + 1,
            "lifetime counts stay"
        );
    }

    #[test]
    fn chunks_are_created_by_the_first_record_that_lands_there() {
        let counts = Counts::new(LAYOUT.buckets());
        let empty = counts.heap_bytes();
        assert_eq!(counts.chunk_count(), 33);
        counts.increment(LAYOUT.index(1_000_000));
        counts.increment(LAYOUT.index(1_020_000));
        let one = counts.heap_bytes();
        assert_eq!(one - empty, std::mem::size_of::<Chunk>(), "one chunk");
        counts.increment(LAYOUT.index(100_000_000));
        assert_eq!(counts.heap_bytes() - one, std::mem::size_of::<Chunk>());
        let (k, _) = chunk_of(LAYOUT.index(1_000_000));
        assert!(counts.has_chunk(k) && !counts.has_chunk(k + 1));
        let read = counts.read();
        assert_eq!(read.iter().sum::<u64>(), 3);
        assert_eq!(read[LAYOUT.index(100_000_000)], 1);
        assert_eq!(counts.sum(0..LAYOUT.buckets()), 3);
        assert_eq!(
            counts.sum(LAYOUT.index(1_000_000)..LAYOUT.index(1_020_000)),
            1
        );
        // A reset allocates a base for the chunks that exist, and only for them.
        let before = counts.heap_bytes();
        counts.rebase();
        assert_eq!(
            counts.heap_bytes() - before,
            33 * 8 + 2 * std::mem::size_of::<[AtomicU64; CHUNK]>()
        );
        counts.increment(LAYOUT.index(1_000_000));
        assert_eq!(counts.sum_since_reset(0..LAYOUT.buckets()), 1);
        assert_eq!(counts.sum(0..LAYOUT.buckets()), 4);
    }

    #[test]
    fn a_chunk_read_overwrites_the_buffer_and_a_missing_one_leaves_it() {
        // 100 counters: the second chunk is cut at 36.
        let counts = Counts::new(100);
        counts.increment(3);
        counts.increment(70);
        counts.increment(70);
        let mut out = [7; CHUNK];
        assert_eq!(counts.read_lifetime_chunk(1, &mut out), Some(1 << 6));
        assert_eq!(out[6], 2);
        assert_eq!(
            out.iter().sum::<u64>(),
            2,
            "zero elsewhere, past the cut too"
        );
        assert_eq!(counts.read_lifetime_chunk(0, &mut out), Some(1 << 3));
        assert_eq!((out[3], out.iter().sum::<u64>()), (1, 1));
        assert_eq!(
            counts.read_lifetime_chunk(2, &mut out),
            None,
            "past the counters"
        );
        let empty = Counts::new(100);
        assert_eq!(empty.read_lifetime_chunk(0, &mut out), None);
        assert_eq!(out[3], 1, "left as it was");
        // Adding: the mask is of the histogram added, the sums hold both.
        let other = Counts::new(100);
        other.increment(5);
        assert_eq!(other.add_lifetime_chunk(0, &mut out), Some(1 << 5));
        assert_eq!((out[3], out[5]), (1, 1));
        assert_eq!(empty.add_lifetime_chunk(0, &mut out), None);
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
                c.add_coarse_chunk(Layout::new(MIN_PRECISION), 0, &coarse);
                u64::from(coarse[0].load(Relaxed))
            },
            |c: &Counts| {
                c.rebase();
                c.sum(0..1) - c.sum_since_reset(0..1)
            },
        ] {
            let counts = Arc::new(Counts::new(8));
            // The record that filled the low word has added to the high word and not yet
            // emptied the low one: the two words say 2 × 2^31 + 5.
            counts.high(0)[0].store(1, Relaxed);
            counts.chunk(0).low[0].store(CARRY + 5, Relaxed);
            let finish = |c: &Counts| {
                c.chunk(0).low[0].fetch_sub(CARRY, Release);
            };
            let seen = read_across_a_carry(&counts, read, finish);
            assert_eq!(seen % (1 << 32), u64::from(CARRY) + 5);
        }
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
        let low = &counts.chunk(0).low[0];
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
                low.store(CARRY - 1, Relaxed);
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

/// Model checks of the chunk and carry protocols (`--cfg loom`; see [`crate::engine::sync`]).
///
/// Each model was seen to fail with its protection taken out (the changes and the
/// failures are listed in `docs/performance.md`, "Model-checked protocols").
#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;

    use super::{CARRY, CHUNK, Counts};

    /// Counts of one chunk whose counter 0 is one record short of a carry.
    fn one_short_of_a_carry() -> Arc<Counts> {
        let counts = Arc::new(Counts::new(CHUNK));
        counts.increment(1);
        let chunk = counts.chunks[0].get().expect("created by the record");
        chunk.low[0].store(CARRY - 1, Relaxed);
        counts
    }

    /// A record (which carries) against a reset and a read of the same bucket: the read
    /// is the count before or after the record, never off by `2^31`, and the view since
    /// the reset is one the reset could have left.
    #[test]
    fn record_read_reset_and_carry_on_one_bucket() {
        crate::engine::sync::model(|| {
            let counts = one_short_of_a_carry();
            let before = u64::from(CARRY - 1);
            let recorder = {
                let counts = Arc::clone(&counts);
                loom::thread::spawn(move || counts.increment(0))
            };
            let resetter = {
                let counts = Arc::clone(&counts);
                loom::thread::spawn(move || counts.rebase())
            };
            let lifetime = counts.sum(0..1);
            assert!(lifetime == before || lifetime == before + 1, "{lifetime}");
            let view = counts.sum_since_reset(0..1);
            assert!(view <= 1 || view == before || view == before + 1, "{view}");
            recorder.join().expect("recorder");
            resetter.join().expect("resetter");
            assert_eq!(counts.sum(0..1), before + 1);
            assert!(counts.sum_since_reset(0..1) <= 1);
            assert_eq!(counts.read()[1], 0, "the other bucket was rebased");
        });
    }

    /// Two records that both find their chunk missing: both are counted.
    #[test]
    fn two_recorders_creating_the_same_chunk() {
        crate::engine::sync::model(|| {
            let counts = Arc::new(Counts::new(CHUNK));
            let other = {
                let counts = Arc::clone(&counts);
                loom::thread::spawn(move || counts.increment(3))
            };
            counts.increment(5);
            other.join().expect("recorder");
            assert_eq!(counts.sum(0..CHUNK), 2);
            assert_eq!(counts.read()[3], 1);
        });
    }

    /// A read while a record creates the chunk it lands in sees no chunk (zero) or the
    /// chunk with its count (one), nothing else; and a reader that sees that record sees
    /// the record its thread made before, in a chunk read after this one.
    #[test]
    fn a_read_during_chunk_creation() {
        crate::engine::sync::model(|| {
            let counts = Arc::new(Counts::new(2 * CHUNK));
            counts.increment(CHUNK);
            let recorder = {
                let counts = Arc::clone(&counts);
                loom::thread::spawn(move || {
                    counts.increment(CHUNK + 1);
                    counts.increment(1);
                })
            };
            let read = counts.read();
            assert!(read[1] <= 1 && read[0] == 0);
            assert!(read[1] == 0 || read[CHUNK + 1] == 1, "{read:?}");
            let sum = counts.sum(0..2 * CHUNK);
            assert!((1..=3).contains(&sum), "{sum}");
            recorder.join().expect("recorder");
            assert_eq!(counts.sum(0..2 * CHUNK), 3);
        });
    }
}
