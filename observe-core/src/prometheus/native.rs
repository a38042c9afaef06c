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

use std::collections::HashMap;
use std::sync::Mutex;

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

/// One series' native buckets, ready to encode.
#[derive(Debug, Default)]
pub(crate) struct NativeBuckets {
    pub(crate) schema: i32,
    pub(crate) zero_count: u64,
    /// `(offset, length)`: the first offset is the first index, the others the gap
    /// since the previous span.
    pub(crate) spans: Vec<(i32, u32)>,
    /// Each bucket's count minus the previous one's (the first minus zero).
    pub(crate) deltas: Vec<i64>,
}

/// Maps fine buckets to native ones for every operation of a collector, keeping each
/// operation's schema, which only goes down.
#[derive(Debug)]
pub(crate) struct NativeMapper {
    config: NativeHistograms,
    /// The schema each operation was last exposed at, below the configured one.
    lowered: Mutex<HashMap<Box<str>, i8>>,
    /// Reused between series: `(index at the configured schema, count)`.
    scratch: Mutex<Vec<(i32, u64)>>,
}

impl NativeMapper {
    pub(crate) fn new(config: NativeHistograms) -> Self {
        Self {
            config,
            lowered: Mutex::new(HashMap::new()),
            scratch: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn config(&self) -> &NativeHistograms {
        &self.config
    }

    /// The native buckets of operation `name`, from its fine buckets visited in
    /// increasing order by `visit` (each with its midpoint in seconds and its count).
    pub(crate) fn map(
        &self,
        name: &str,
        visit: impl FnOnce(&mut dyn FnMut(f64, u64)),
        out: &mut NativeBuckets,
    ) {
        let mut keys = self
            .scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.clear();
        let configured = self.config.schema;
        let threshold = self.config.zero_threshold;
        let mut zero_count = 0;
        visit(&mut |mid_seconds, count| {
            if mid_seconds <= threshold {
                zero_count += count;
                return;
            }
            let index = native_index(mid_seconds, configured);
            // Midpoints increase, so equal indices are neighbours.
            match keys.last_mut() {
                Some((last, sum)) if *last == index => *sum += count,
                _ => keys.push((index, count)),
            }
        });

        let mut lowered = self
            .lowered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut schema = lowered.get(name).copied().unwrap_or(configured);
        merge(&mut keys, configured, schema);
        while keys.len() > self.config.max_buckets && schema > MIN_SCHEMA {
            merge(&mut keys, schema, schema - 1);
            schema -= 1;
        }
        if schema < configured {
            lowered.insert(name.into(), schema);
        }
        drop(lowered);

        out.schema = i32::from(schema);
        out.zero_count = zero_count;
        out.spans.clear();
        out.deltas.clear();
        let mut previous_index = None;
        let mut previous_count = 0i64;
        for &(index, count) in keys.iter() {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            match (previous_index, out.spans.last_mut()) {
                (Some(p), Some(span)) if index == p + 1 => span.1 += 1,
                (Some(p), _) => out.spans.push((index - p - 1, 1)),
                (None, _) => out.spans.push((index, 1)),
            }
            out.deltas.push(count - previous_count);
            previous_count = count;
            previous_index = Some(index);
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

    fn mapped(mapper: &NativeMapper, name: &str, buckets: &[(f64, u64)]) -> NativeBuckets {
        let mut out = NativeBuckets::default();
        mapper.map(
            name,
            |f| {
                for &(mid, count) in buckets {
                    f(mid, count);
                }
            },
            &mut out,
        );
        out
    }

    #[test]
    fn spans_and_deltas_follow_the_populated_buckets() {
        let mapper = NativeMapper::new(NativeHistograms::new(0).expect("valid"));
        // Indices at schema 0: 0.3 -> -1, 0.4 -> -1, 0.9 -> 0, 3.0 -> 2, 100 -> 7.
        let out = mapped(
            &mapper,
            "op",
            &[(0.0, 2), (0.3, 1), (0.4, 4), (0.9, 2), (3.0, 7), (100.0, 1)],
        );
        assert_eq!(out.schema, 0);
        assert_eq!(out.zero_count, 2);
        assert_eq!(out.spans, [(-1, 2), (1, 1), (4, 1)]);
        assert_eq!(out.deltas, [5, -3, 5, -6]);
    }

    #[test]
    fn the_cap_lowers_the_schema_and_it_never_rises_again() {
        let mapper = NativeMapper::new(NativeHistograms::new(4).expect("valid").max_buckets(4));
        let wide: Vec<_> = (0..40).map(|i| (1.1f64.powi(i), 1)).collect();
        let out = mapped(&mapper, "wide", &wide);
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
        assert_eq!(narrow.schema, lowered);
        // Another series keeps its own.
        assert_eq!(mapped(&mapper, "other", &[(1.0, 3)]).schema, 4);
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
