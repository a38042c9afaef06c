//! Prometheus native histograms, mapped from the fine histogram at scrape time.
//!
//! A native histogram has exponential buckets chosen by a *schema* `s`: bucket `i`
//! holds the values in `(2^((i-1)/2^s), 2^(i/2^s)]` seconds, so a bucket is
//! `2^(2^-s)` times wider than the one below (9 % at schema 3, 2.2 % at schema 5), and
//! a bucket of schema `s - 1` is exactly two of schema `s`. Each populated fine bucket
//! of an operation (0.78 % wide at the default precision) goes whole into the native
//! bucket holding its midpoint; recording does not change at all.
//!
//! The counts are the fine buckets' lifetime counts, which never go back, so the native
//! buckets are as monotonic as the classic ones. When an operation's populated native
//! buckets pass the cap, its schema goes down one step at a time until they fit (two
//! buckets merge into one); it never goes up again for the life of the process, since
//! Prometheus reads a rising schema as a counter reset.
//!
//! A scrape does no floating point per bucket: the native index of every fine bucket's
//! midpoint at the configured schema is a table built with the collector, and one
//! scrape keeps every series' spans and deltas in three vectors. Until some operation
//! passes the cap, mapping a series takes no lock and looks no name up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::engine::Layout;
use crate::error::BuildError;

/// The lowest schema Prometheus accepts.
pub const MIN_SCHEMA: i8 = -4;
/// The highest schema an operation histogram exposes: 64 buckets per power of two, the
/// resolution of the fine histogram at the default precision.
pub const MAX_SCHEMA: i8 = 6;
/// The schema of [`NativeHistograms::default`]: 8 buckets per power of two, each 9 %
/// wide; quantiles within about 2 %.
pub const DEFAULT_SCHEMA: i8 = 3;
/// The zero threshold of [`NativeHistograms::default`], in seconds: `2^-128`, the
/// Prometheus default, which keeps every positive duration out of the zero bucket.
pub const DEFAULT_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;
/// The default cap on the populated buckets of one series.
pub const DEFAULT_MAX_BUCKETS: usize = 320;

/// How the duration histograms are exported as native histograms (in the protobuf
/// exposition only; the text formats stay classic).
///
/// ```
/// use observe_core::prometheus::NativeHistograms;
///
/// let native = NativeHistograms::new(5)?.zero_threshold(1e-9)?.max_buckets(200);
/// assert_eq!(native.schema(), 5);
/// assert!(NativeHistograms::new(7).is_err());
/// # Ok::<(), observe_core::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NativeHistograms {
    schema: i8,
    zero_threshold: f64,
    max_buckets: usize,
}

impl Default for NativeHistograms {
    fn default() -> Self {
        Self {
            schema: DEFAULT_SCHEMA,
            zero_threshold: DEFAULT_ZERO_THRESHOLD,
            max_buckets: DEFAULT_MAX_BUCKETS,
        }
    }
}

impl NativeHistograms {
    /// Native histograms at `schema`, from [`MIN_SCHEMA`] (−4) to [`MAX_SCHEMA`] (6).
    ///
    /// # Errors
    ///
    /// [`BuildError::NativeSchema`] for a schema out of that range.
    pub fn new(schema: i8) -> Result<Self, BuildError> {
        validate_schema(schema)?;
        Ok(Self {
            schema,
            ..Self::default()
        })
    }

    /// Durations of at most `seconds` count in the zero bucket (default `2^-128`, so in
    /// effect none but zero).
    ///
    /// # Errors
    ///
    /// [`BuildError::NativeZeroThreshold`] unless `seconds` is finite and positive.
    pub fn zero_threshold(mut self, seconds: f64) -> Result<Self, BuildError> {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(BuildError::NativeZeroThreshold {
                got: seconds.to_string(),
            });
        }
        self.zero_threshold = seconds;
        Ok(self)
    }

    /// The most populated buckets of one series (default 320; at least 1): past it the
    /// series' schema goes down, and stays down.
    #[must_use]
    pub fn max_buckets(mut self, buckets: usize) -> Self {
        self.max_buckets = buckets.max(1);
        self
    }

    /// The schema asked for; a series exposes it until its cap lowers it.
    #[must_use]
    pub fn schema(&self) -> i8 {
        self.schema
    }

    /// The zero threshold in seconds.
    #[must_use]
    pub fn threshold(&self) -> f64 {
        self.zero_threshold
    }

    /// The cap on populated buckets per series.
    #[must_use]
    pub fn bucket_cap(&self) -> usize {
        self.max_buckets
    }
}

/// Checks a native schema: −4 to 6.
pub(crate) fn validate_schema(schema: i8) -> Result<(), BuildError> {
    if (MIN_SCHEMA..=MAX_SCHEMA).contains(&schema) {
        Ok(())
    } else {
        Err(BuildError::NativeSchema {
            got: schema,
            min: MIN_SCHEMA,
            max: MAX_SCHEMA,
        })
    }
}

/// The native bucket index of `seconds > 0` at `schema`: the `i` with
/// `2^((i-1)/2^s) < seconds <= 2^(i/2^s)`.
pub(crate) fn native_index(seconds: f64, schema: i8) -> i32 {
    if schema > 0 {
        let scaled = seconds.log2() * f64::from(1u32 << schema);
        // An index is far inside `i32`: durations span about 2^-30 to 2^23 seconds.
        scaled.ceil() as i32
    } else {
        let exponent = seconds.log2().ceil() as i32;
        lower_index(exponent, 0, schema)
    }
}

/// The index at schema `to` of the bucket with index `index` at schema `from >= to`:
/// `ceil(index / 2^(from - to))`.
fn lower_index(index: i32, from: i8, to: i8) -> i32 {
    let shift = u32::try_from(i32::from(from) - i32::from(to)).unwrap_or(0);
    if shift == 0 {
        return index;
    }
    let offset = (1i32 << shift) - 1;
    // An arithmetic shift floors, so this is the ceiling for negative indices too.
    (index + offset) >> shift
}

/// One series' native buckets, ready to encode: a view into a [`NativeSet`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct NativeBuckets<'a> {
    pub(crate) schema: i32,
    pub(crate) zero_count: u64,
    /// `(offset, length)`: the first offset is the first index, the others the gap
    /// since the previous span.
    pub(crate) spans: &'a [(i32, u32)],
    /// Each bucket's count minus the previous one's (the first minus zero).
    pub(crate) deltas: &'a [i64],
}

/// The native buckets of every series of one scrape, in the order they were mapped,
/// kept in three vectors for the whole scrape rather than two per series.
#[derive(Debug, Default)]
pub(crate) struct NativeSet {
    series: Vec<SeriesEnd>,
    spans: Vec<(i32, u32)>,
    deltas: Vec<i64>,
}

/// One series of a [`NativeSet`]: its schema, zero count, and where its spans and
/// deltas end.
#[derive(Clone, Copy, Debug)]
struct SeriesEnd {
    schema: i8,
    zero_count: u64,
    spans: usize,
    deltas: usize,
}

impl NativeSet {
    /// The native buckets of the `i`th series mapped.
    pub(crate) fn get(&self, i: usize) -> Option<NativeBuckets<'_>> {
        let end = self.series.get(i)?;
        let (spans, deltas) = match i.checked_sub(1).and_then(|p| self.series.get(p)) {
            Some(previous) => (previous.spans, previous.deltas),
            None => (0, 0),
        };
        Some(NativeBuckets {
            schema: i32::from(end.schema),
            zero_count: end.zero_count,
            spans: self.spans.get(spans..end.spans)?,
            deltas: self.deltas.get(deltas..end.deltas)?,
        })
    }
}

/// Maps fine buckets to native ones for every operation of a collector, keeping each
/// operation's schema, which only goes down.
///
/// The native index of each fine bucket's midpoint at the configured schema is
/// computed once, when the collector is built: a scrape looks it up rather than taking
/// a logarithm per bucket.
#[derive(Debug)]
pub(crate) struct NativeMapper {
    config: NativeHistograms,
    /// Per fine bucket of the collector's layout, the native index of its midpoint at
    /// the configured schema (0 for those below `first_positive`).
    indices: Box<[i32]>,
    /// The fine buckets below this one have their midpoint at or below the zero
    /// threshold: they count in the zero bucket.
    first_positive: usize,
    /// The schema each operation was last exposed at, below the configured one.
    lowered: Mutex<HashMap<Box<str>, i8, foldhash::fast::RandomState>>,
    /// Whether `lowered` holds any operation: until one passes the cap, a scrape takes
    /// no lock and looks no name up.
    any_lowered: AtomicBool,
}

impl NativeMapper {
    /// The mapper of a collector whose fine histograms have `layout`.
    pub(crate) fn new(config: NativeHistograms, layout: Layout) -> Self {
        let mid_seconds =
            |idx: usize| (layout.lower_ns(idx) as f64 + layout.width_ns(idx) as f64 / 2.0) / 1e9;
        let buckets = layout.buckets();
        // Midpoints increase with the index, so the zero bucket's fine buckets come first.
        let first_positive = (0..buckets)
            .position(|idx| mid_seconds(idx) > config.zero_threshold)
            .unwrap_or(buckets);
        let indices = (0..buckets)
            .map(|idx| {
                if idx < first_positive {
                    0
                } else {
                    native_index(mid_seconds(idx), config.schema)
                }
            })
            .collect();
        Self {
            config,
            indices,
            first_positive,
            lowered: Mutex::default(),
            any_lowered: AtomicBool::new(false),
        }
    }

    pub(crate) fn config(&self) -> &NativeHistograms {
        &self.config
    }

    /// Starts mapping the operations of one scrape, `series` of them.
    pub(crate) fn scrape(&self, series: usize) -> NativeScrape<'_> {
        NativeScrape {
            mapper: self,
            keys: Vec::new(),
            set: NativeSet {
                series: Vec::with_capacity(series),
                spans: Vec::new(),
                deltas: Vec::new(),
            },
        }
    }

    /// The schema `name` is exposed at with `keys` (increasing indices at the configured
    /// schema), which it rewrites at that schema: the schema it had before, lowered
    /// further while `keys` pass the cap.
    #[cold]
    fn lower(&self, name: &str, keys: &mut Vec<(i32, u64)>) -> i8 {
        let configured = self.config.schema;
        let mut lowered = self.lowered.lock().unwrap_or_else(PoisonError::into_inner);
        let before = lowered.get(name).copied().unwrap_or(configured);
        let mut schema = before;
        merge(keys, configured, schema);
        while keys.len() > self.config.max_buckets && schema > MIN_SCHEMA {
            merge(keys, schema, schema - 1);
            schema -= 1;
        }
        if schema < before {
            lowered.insert(name.into(), schema);
            self.any_lowered.store(true, Ordering::Release);
        }
        schema
    }
}

/// The native mapping of one scrape; [`finish`](Self::finish) gives every series'
/// buckets.
#[derive(Debug)]
pub(crate) struct NativeScrape<'a> {
    mapper: &'a NativeMapper,
    /// Reused between series: `(index at the configured schema, count)`.
    keys: Vec<(i32, u64)>,
    set: NativeSet,
}

impl NativeScrape<'_> {
    /// Maps the fine buckets of operation `name`, which `visit` hands to
    /// [`FineBuckets::add`] in increasing index order, into its native buckets.
    pub(crate) fn map(&mut self, name: &str, visit: impl FnOnce(&mut FineBuckets<'_>)) {
        let mapper = self.mapper;
        self.keys.clear();
        let mut fine = FineBuckets {
            indices: &mapper.indices,
            first_positive: mapper.first_positive,
            keys: &mut self.keys,
            zero_count: 0,
        };
        visit(&mut fine);
        let zero_count = fine.zero_count;

        let schema = if self.keys.len() > mapper.config.max_buckets
            || mapper.any_lowered.load(Ordering::Acquire)
        {
            mapper.lower(name, &mut self.keys)
        } else {
            mapper.config.schema
        };

        let set = &mut self.set;
        let mut previous: Option<(i32, i64)> = None;
        for &(index, count) in &self.keys {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            match previous {
                Some((p, _)) if index == p + 1 => {
                    if let Some(span) = set.spans.last_mut() {
                        span.1 += 1;
                    }
                }
                Some((p, _)) => set.spans.push((index - p - 1, 1)),
                None => set.spans.push((index, 1)),
            }
            set.deltas.push(count - previous.map_or(0, |(_, c)| c));
            previous = Some((index, count));
        }
        set.series.push(SeriesEnd {
            schema,
            zero_count,
            spans: set.spans.len(),
            deltas: set.deltas.len(),
        });
    }

    /// Every series' native buckets, in the order mapped.
    pub(crate) fn finish(self) -> NativeSet {
        self.set
    }
}

/// Takes one operation's populated fine buckets, in increasing index order.
#[derive(Debug)]
pub(crate) struct FineBuckets<'a> {
    indices: &'a [i32],
    first_positive: usize,
    keys: &'a mut Vec<(i32, u64)>,
    zero_count: u64,
}

impl FineBuckets<'_> {
    /// Adds `count` records of fine bucket `fine` to the native bucket of its midpoint.
    #[inline]
    pub(crate) fn add(&mut self, fine: usize, count: u64) {
        if fine < self.first_positive {
            self.zero_count += count;
            return;
        }
        // Past the layout (never, for a fine index): the top bucket.
        let Some(&index) = self.indices.get(fine).or(self.indices.last()) else {
            return;
        };
        // Indices never decrease, so equal ones are neighbours.
        match self.keys.last_mut() {
            Some((last, sum)) if *last == index => *sum += count,
            _ => self.keys.push((index, count)),
        }
    }
}

/// Rewrites `keys` (increasing indices at schema `from`) at schema `to <= from`,
/// adding up the buckets that merge.
fn merge(keys: &mut Vec<(i32, u64)>, from: i8, to: i8) {
    if from == to {
        return;
    }
    let mut write = 0;
    for read in 0..keys.len() {
        let (index, count) = keys[read];
        let index = lower_index(index, from, to);
        if write > 0 && keys[write - 1].0 == index {
            keys[write - 1].1 += count;
        } else {
            keys[write] = (index, count);
            write += 1;
        }
    }
    keys.truncate(write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(index: i32, schema: i8) -> f64 {
        2f64.powf(f64::from(index) / 2f64.powi(i32::from(schema)))
    }

    #[test]
    fn an_index_holds_its_value_at_every_schema() {
        for schema in MIN_SCHEMA..=MAX_SCHEMA {
            for value in [3e-9, 0.000_7, 0.012_3, 0.5, 0.99, 1.01, 3.7, 1234.5] {
                let index = native_index(value, schema);
                assert!(upper(index - 1, schema) < value, "{value} at {schema}");
                assert!(value <= upper(index, schema) * (1.0 + 1e-12), "{value}");
            }
        }
        // Exact powers of two are upper bounds (inclusive).
        assert_eq!(native_index(1.0, 3), 0);
        assert_eq!(native_index(2.0, 0), 1);
        assert_eq!(native_index(2.0, -2), 1);
        assert_eq!(native_index(4.0, -1), 1);
        assert_eq!(native_index(4.1, -1), 2);
    }

    #[test]
    fn lowering_a_schema_is_the_same_as_mapping_at_the_lower_one() {
        for value in [1e-7, 0.000_31, 0.04, 0.7, 1.9, 77.0] {
            for from in MIN_SCHEMA..=MAX_SCHEMA {
                for to in MIN_SCHEMA..=from {
                    assert_eq!(
                        lower_index(native_index(value, from), from, to),
                        native_index(value, to),
                        "{value} from {from} to {to}"
                    );
                }
            }
        }
    }

    const LAYOUT: Layout = Layout::new(crate::engine::DEFAULT_PRECISION);

    fn mapper(config: NativeHistograms) -> NativeMapper {
        NativeMapper::new(config, LAYOUT)
    }

    /// The native buckets of records of `(seconds, count)`, increasing, each in its own
    /// fine bucket.
    fn mapped(mapper: &NativeMapper, name: &str, records: &[(f64, u64)]) -> NativeSet {
        let mut scrape = mapper.scrape(1);
        scrape.map(name, |fine| {
            for &(seconds, count) in records {
                fine.add(LAYOUT.index((seconds * 1e9) as u64), count);
            }
        });
        scrape.finish()
    }

    fn only(set: &NativeSet) -> NativeBuckets<'_> {
        set.get(0).expect("one series")
    }

    #[test]
    fn every_fine_bucket_maps_to_the_native_bucket_of_its_midpoint() {
        for precision in [
            crate::engine::MIN_PRECISION,
            7,
            crate::engine::MAX_PRECISION,
        ] {
            let layout = Layout::new(precision);
            for schema in MIN_SCHEMA..=MAX_SCHEMA {
                let config = NativeHistograms::new(schema).expect("valid");
                let mapper = NativeMapper::new(config.zero_threshold(1e-7).expect("valid"), layout);
                for fine in 0..layout.buckets() {
                    let mid =
                        (layout.lower_ns(fine) as f64 + layout.width_ns(fine) as f64 / 2.0) / 1e9;
                    if mid <= 1e-7 {
                        assert!(fine < mapper.first_positive, "{fine} at {precision}");
                        continue;
                    }
                    assert!(fine >= mapper.first_positive, "{fine} at {precision}");
                    let index = mapper.indices[fine];
                    assert!(
                        upper(index - 1, schema) < mid,
                        "{fine} at {schema}, {precision}"
                    );
                    assert!(
                        mid <= upper(index, schema) * (1.0 + 1e-12),
                        "{fine} at {schema}"
                    );
                }
            }
        }
    }

    #[test]
    fn spans_and_deltas_follow_the_populated_buckets() {
        let config = NativeHistograms::new(0).expect("valid");
        let mapper = mapper(config.zero_threshold(1e-6).expect("valid"));
        // Indices at schema 0: 0.3 -> -1, 0.4 -> -1, 0.9 -> 0, 3.0 -> 2, 100 -> 7; 100 ns
        // is under the zero threshold.
        let set = mapped(
            &mapper,
            "op",
            &[
                (1e-7, 2),
                (0.3, 1),
                (0.4, 4),
                (0.9, 2),
                (3.0, 7),
                (100.0, 1),
            ],
        );
        let out = only(&set);
        assert_eq!(out.schema, 0);
        assert_eq!(out.zero_count, 2);
        assert_eq!(out.spans, [(-1, 2), (1, 1), (4, 1)]);
        assert_eq!(out.deltas, [5, -3, 5, -6]);
    }

    #[test]
    fn each_series_of_a_scrape_keeps_its_own_buckets() {
        let mapper = mapper(NativeHistograms::new(0).expect("valid"));
        let mut scrape = mapper.scrape(3);
        for records in [&[(0.3, 1), (3.0, 2)][..], &[], &[(0.9, 5), (1.5, 1)]] {
            scrape.map("op", |fine| {
                for &(seconds, count) in records {
                    fine.add(LAYOUT.index((seconds * 1e9) as u64), count);
                }
            });
        }
        let set = scrape.finish();
        let first = set.get(0).expect("first");
        assert_eq!(
            (first.spans, first.deltas),
            (&[(-1, 1), (2, 1)][..], &[1, 1][..])
        );
        let empty = set.get(1).expect("second");
        assert!(empty.spans.is_empty() && empty.deltas.is_empty());
        let third = set.get(2).expect("third");
        assert_eq!((third.spans, third.deltas), (&[(0, 2)][..], &[5, -4][..]));
        assert!(set.get(3).is_none());
    }

    #[test]
    fn the_cap_lowers_the_schema_and_it_never_rises_again() {
        let mapper = mapper(NativeHistograms::new(4).expect("valid").max_buckets(4));
        let wide: Vec<_> = (0..40).map(|i| (1.1f64.powi(i), 1)).collect();
        let set = mapped(&mapper, "wide", &wide);
        let out = only(&set);
        assert!(out.schema < 4);
        let buckets: u32 = out.spans.iter().map(|s| s.1).sum();
        assert!(buckets <= 4, "{out:?}");
        let total: i64 = out
            .deltas
            .iter()
            .scan(0, |count, d| {
                *count += d;
                Some(*count)
            })
            .sum();
        assert_eq!(total, 40, "merging keeps every count");
        let lowered = out.schema;
        // Fewer buckets later: the schema stays where it went.
        let narrow = mapped(&mapper, "wide", &[(1.0, 3)]);
        assert_eq!(only(&narrow).schema, lowered);
        // Another series keeps its own.
        assert_eq!(only(&mapped(&mapper, "other", &[(1.0, 3)])).schema, 4);
    }

    #[test]
    fn schemas_out_of_range_are_refused() {
        assert!(NativeHistograms::new(-5).is_err());
        assert!(NativeHistograms::new(7).is_err());
        assert_eq!(
            NativeHistograms::new(9)
                .expect_err("out of range")
                .to_string(),
            "invalid native histogram schema 9: Prometheus accepts -4 to 6 here"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(NativeHistograms::default().zero_threshold(bad).is_err());
        }
    }
}
