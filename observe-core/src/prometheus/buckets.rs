//! Prometheus `le` buckets, counted exactly at no cost to most records.
//!
//! Every fine histogram bucket but a few lies wholly inside one `le` bucket, and those
//! of one `le` bucket are consecutive: a scrape sums runs of the fine histogram. Only
//! the fine buckets that straddle a boundary (one per boundary, and the last, which also
//! holds durations past its end) need more: a record that lands in one compares its
//! exact duration with the boundaries and adds to a counter of its own `le` bucket.

use std::ops::Range;

use crate::engine::Layout;
use crate::error::BuildError;

/// The default `le` boundaries in seconds: 0.5 ms to 30 s.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The most boundaries a collector accepts.
const MAX_BUCKETS: usize = 64;

/// Marks a table entry whose fine bucket holds a boundary.
const STRADDLES: u8 = 0x80;

/// Boundaries in seconds and nanoseconds, and the fine-bucket lookup table.
#[derive(Debug)]
pub(crate) struct LeTable {
    seconds: Box<[f64]>,
    /// Inclusive upper bounds in nanoseconds: a duration `d` belongs to the first
    /// boundary with `d <= bound`.
    nanos: Box<[u64]>,
    table: Box<[u8]>,
    /// The fine buckets wholly inside each `le` bucket (the last is `+Inf`).
    runs: Box<[Range<usize>]>,
}

impl LeTable {
    /// Builds the table for `seconds`, which the builder has validated (finite, positive,
    /// strictly increasing, at most `MAX_BUCKETS`).
    pub(crate) fn new(layout: Layout, seconds: &[f64]) -> Self {
        let nanos: Box<[u64]> = seconds.iter().map(|&s| seconds_to_bound_ns(s)).collect();
        let table = (0..layout.buckets())
            .map(|fine| {
                let lo = layout.lower_ns(fine);
                let hi = lo.saturating_add(layout.width_ns(fine) - 1);
                let first = nanos.partition_point(|&b| b < lo);
                let last = nanos.partition_point(|&b| b < hi);
                let top = fine + 1 == layout.buckets();
                // `first` fits in 7 bits: there are at most 64 boundaries.
                if first == last && !top {
                    first as u8
                } else {
                    STRADDLES
                }
            })
            .collect::<Box<[u8]>>();
        let mut runs: Box<[Range<usize>]> = (0..=nanos.len()).map(|_| 0..0).collect();
        for (fine, &entry) in table.iter().enumerate() {
            if let Some(run) = runs.get_mut(usize::from(entry))
                && entry & STRADDLES == 0
            {
                if run.start == run.end {
                    *run = fine..fine;
                }
                run.end = fine + 1;
            }
        }
        Self {
            seconds: seconds.into(),
            nanos,
            table,
            runs,
        }
    }

    /// Number of counters an operation needs (boundaries plus `+Inf`).
    pub(crate) fn len(&self) -> usize {
        self.nanos.len() + 1
    }

    /// The boundaries in seconds.
    pub(crate) fn seconds(&self) -> &[f64] {
        &self.seconds
    }

    /// Whether fine bucket `fine` straddles a boundary (or lies past the table).
    #[inline]
    pub(crate) fn straddles(&self, fine: usize) -> bool {
        self.table
            .get(fine)
            .is_none_or(|&entry| entry & STRADDLES != 0)
    }

    /// The `le` bucket of a duration of `ns`, by comparing it with the boundaries.
    pub(crate) fn exact(&self, ns: u64) -> usize {
        self.nanos.partition_point(|&b| b < ns)
    }

    /// The fine buckets wholly inside each `le` bucket, consecutive and in order.
    pub(crate) fn runs(&self) -> &[Range<usize>] {
        &self.runs
    }

    /// The `le` bucket of a duration of `ns` that fell in fine bucket `fine`.
    #[cfg(test)]
    fn index(&self, fine: usize, ns: u64) -> usize {
        match self.table.get(fine) {
            Some(&entry) if entry & STRADDLES == 0 => usize::from(entry),
            _ => self.exact(ns),
        }
    }
}

/// The largest whole number of nanoseconds that is `<= seconds`, reading a boundary like
/// `0.0005` as the exact decimal it stands for: the shortest one that reads back as
/// `seconds`, which is also what its `le` label shows.
///
/// Scaling the float by `1e9` instead is off by one nanosecond for many boundaries: a
/// product just below a whole number (`16384.1` gives `16384099999999.998`) or just
/// above one that is rounded to it (`1.0999999e-6` gives `1099.9999`).
fn seconds_to_bound_ns(seconds: f64) -> u64 {
    if seconds.is_nan() || seconds <= 0.0 {
        return 0;
    }
    // `{:e}` writes the shortest decimal that reads back as `seconds`: `5e-4`, `1.63841e4`.
    let text = format!("{seconds:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let Ok(exponent) = exponent.parse::<i32>() else {
        return u64::MAX;
    };
    // At most 17 significant digits: they fit in a u128.
    let digits = int
        .bytes()
        .chain(frac.bytes())
        .filter(u8::is_ascii_digit)
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
    // The value in nanoseconds is `digits * 10^shift`.
    let shift = i64::from(exponent) + 9 - frac.len() as i64;
    let ns = match u32::try_from(shift) {
        Ok(up) => 10u128
            .checked_pow(up)
            .and_then(|scale| digits.checked_mul(scale))
            .unwrap_or(u128::MAX),
        Err(_) => u32::try_from(-shift)
            .ok()
            .and_then(|down| 10u128.checked_pow(down))
            .map_or(0, |scale| digits / scale),
    };
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Checks histogram boundaries the way this crate's builders and `observe-tower`'s do:
/// finite, positive, strictly increasing, at most 64. An empty list is valid (only the
/// `+Inf` bucket).
///
/// ```
/// use observe_core::prometheus::validate_buckets;
///
/// assert!(validate_buckets(&[0.01, 0.1, 1.0]).is_ok());
/// let err = validate_buckets(&[0.1, 0.01]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid Prometheus buckets: bucket boundaries must be strictly increasing, got 0.1 then 0.01"
/// );
/// ```
///
/// # Errors
///
/// [`BuildError::Buckets`] saying which rule the list breaks.
pub fn validate_buckets(bounds: &[f64]) -> Result<(), BuildError> {
    let reason = if bounds.len() > MAX_BUCKETS {
        format!("at most {MAX_BUCKETS} buckets, got {}", bounds.len())
    } else if let Some(bad) = bounds.iter().find(|s| !s.is_finite() || **s <= 0.0) {
        format!("bucket boundaries must be finite and positive, got {bad}")
    } else if let Some(pair) = bounds.windows(2).find(|w| w[0] >= w[1]) {
        format!(
            "bucket boundaries must be strictly increasing, got {} then {}",
            pair[0], pair[1]
        )
    } else {
        return Ok(());
    };
    Err(BuildError::Buckets { reason })
}

/// [`validate_buckets`] for the duration histograms of operations, in seconds: also
/// below the longest duration recorded (longer ones are recorded as it, so a boundary
/// past it would count them below it).
pub(crate) fn validate_seconds(seconds: &[f64]) -> Result<(), BuildError> {
    validate_buckets(seconds)?;
    let longest = crate::engine::MAX_RECORDED_NS as f64 / 1e9;
    match seconds.iter().find(|s| **s >= longest) {
        Some(bad) => Err(BuildError::Buckets {
            reason: format!(
                "bucket boundaries must be below {longest} s (the longest duration \
                 recorded, about 104 days), got {bad}"
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DEFAULT_PRECISION;

    const LAYOUT: Layout = Layout::new(DEFAULT_PRECISION);

    fn reference(nanos: &[u64], ns: u64) -> usize {
        nanos.iter().position(|&b| ns <= b).unwrap_or(nanos.len())
    }

    #[test]
    fn the_table_agrees_with_a_linear_scan_around_every_boundary() {
        for bounds in [DEFAULT_BUCKETS, &[1e-9, 2e-9, 1.5e-8, 3600.0, 1e6], &[0.1]] {
            let table = LeTable::new(LAYOUT, bounds);
            for &b in table.nanos.iter() {
                for ns in [b.saturating_sub(1), b, b + 1, b.saturating_mul(2), b / 2] {
                    let got = table.index(LAYOUT.index(ns), ns);
                    assert_eq!(got, reference(&table.nanos, ns), "{ns} ns in {bounds:?}");
                }
            }
            for ns in [0, 1, 999, 1_000_000, u64::MAX] {
                assert_eq!(
                    table.index(LAYOUT.index(ns), ns),
                    reference(&table.nanos, ns)
                );
            }
        }
    }

    #[test]
    fn runs_cover_every_fine_bucket_but_the_straddling_ones() {
        for bounds in [
            DEFAULT_BUCKETS,
            &[1e-9, 2e-9, 1.5e-8, 3600.0, 1e6],
            &[0.1],
            &[],
        ] {
            let table = LeTable::new(LAYOUT, bounds);
            let mut next = 0;
            for (le, run) in table.runs().iter().enumerate() {
                if run.start == run.end {
                    continue;
                }
                while next < run.start {
                    assert!(table.straddles(next), "{next} in {bounds:?}");
                    next += 1;
                }
                for fine in run.clone() {
                    assert!(!table.straddles(fine));
                    assert_eq!(table.index(fine, LAYOUT.lower_ns(fine)), le);
                }
                next = run.end;
            }
            assert!((next..LAYOUT.buckets()).all(|fine| table.straddles(fine)));
        }
    }

    #[test]
    fn decimal_boundaries_are_exact() {
        assert_eq!(seconds_to_bound_ns(0.0005), 500_000);
        assert_eq!(seconds_to_bound_ns(0.1), 100_000_000);
        assert_eq!(seconds_to_bound_ns(2.5), 2_500_000_000);
        assert_eq!(seconds_to_bound_ns(1.5e-9), 1);
        assert_eq!(seconds_to_bound_ns(1e-9), 1);
        assert_eq!(seconds_to_bound_ns(1e-10), 0);
        assert_eq!(seconds_to_bound_ns(7.5e3), 7_500_000_000_000);
        assert_eq!(seconds_to_bound_ns(1e6), 1_000_000_000_000_000);
        assert_eq!(seconds_to_bound_ns(1e300), u64::MAX);
        assert_eq!(seconds_to_bound_ns(f64::MAX), u64::MAX);
        // A product of the float and 1e9 just below a whole number, or just above one.
        assert_eq!(seconds_to_bound_ns(16384.1), 16_384_100_000_000);
        assert_eq!(seconds_to_bound_ns(562_940.2), 562_940_200_000_000);
        assert_eq!(seconds_to_bound_ns(1.0999999e-6), 1_099);
        assert_eq!(seconds_to_bound_ns(1.09991e-8), 10);
        assert_eq!(seconds_to_bound_ns(0.999_999_999_999_9), 999_999_999);
    }

    #[test]
    fn boundaries_written_with_up_to_seven_digits_are_read_as_those_digits() {
        // `digits * 10^exp` seconds, parsed from its decimal text as a user would write
        // it, is `floor(digits * 10^(exp + 9))` nanoseconds.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = u128::from(state % 10_000_000).max(1);
            let exp = (state >> 40) as i32 % 22 - 16;
            let seconds: f64 = format!("{digits}e{exp}").parse().expect("a float");
            let want = match u32::try_from(exp + 9) {
                Ok(up) => digits * 10u128.pow(up),
                Err(_) => digits / 10u128.pow((-(exp + 9)) as u32),
            };
            let want = u64::try_from(want).unwrap_or(u64::MAX);
            assert_eq!(seconds_to_bound_ns(seconds), want, "{digits}e{exp}");
        }
    }

    #[test]
    fn invalid_boundaries_are_rejected_with_a_reason() {
        assert!(validate_seconds(DEFAULT_BUCKETS).is_ok());
        assert!(validate_seconds(&[]).is_ok());
        assert!(
            validate_seconds(&[0.1, 0.1])
                .expect_err("invalid")
                .to_string()
                .contains("increasing")
        );
        assert!(
            validate_seconds(&[f64::NAN])
                .expect_err("invalid")
                .to_string()
                .contains("finite")
        );
        assert!(
            validate_seconds(&[-1.0])
                .expect_err("invalid")
                .to_string()
                .contains("positive")
        );
        assert!(validate_seconds(&[f64::INFINITY]).is_err());
        // 2^53 ns is the longest duration recorded; just below it is fine.
        assert!(validate_seconds(&[9_007_199.0]).is_ok());
        assert!(
            validate_seconds(&[1.0, 1e7])
                .expect_err("invalid")
                .to_string()
                .contains("longest duration recorded")
        );
        assert!(
            validate_seconds(&vec![1.0; 65])
                .expect_err("invalid")
                .to_string()
                .contains("at most")
        );
    }
}
