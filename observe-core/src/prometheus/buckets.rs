//! Prometheus `le` buckets, counted exactly at no cost to most records.
//!
//! Every fine histogram bucket but a few lies wholly inside one `le` bucket, and those
//! of one `le` bucket are consecutive: a scrape sums runs of the fine histogram. Only
//! the fine buckets that straddle a boundary (one per boundary, and the last, which also
//! holds durations past its end) need more: a record that lands in one compares its
//! exact duration with the boundaries and adds to a counter of its own `le` bucket.

use std::ops::Range;

use crate::histogram::Layout;

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

/// The largest whole number of nanoseconds that is `<= seconds`, reading a decimal
/// boundary like `0.0005` as the exact value it stands for.
fn seconds_to_bound_ns(seconds: f64) -> u64 {
    let ns = seconds * 1e9;
    let rounded = ns.round();
    let ns = if (ns - rounded).abs() < 1e-3 {
        rounded
    } else {
        ns.floor()
    };
    // `as` saturates for values beyond u64.
    ns as u64
}

/// Checks boundaries: finite, positive, strictly increasing, at most `MAX_BUCKETS`.
pub(crate) fn validate(seconds: &[f64]) -> Result<(), String> {
    if seconds.len() > MAX_BUCKETS {
        return Err(format!(
            "at most {MAX_BUCKETS} buckets, got {}",
            seconds.len()
        ));
    }
    if let Some(bad) = seconds.iter().find(|s| !s.is_finite() || **s <= 0.0) {
        return Err(format!(
            "bucket boundaries must be finite and positive, got {bad}"
        ));
    }
    if let Some(pair) = seconds.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "bucket boundaries must be strictly increasing, got {} then {}",
            pair[0], pair[1]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::DEFAULT_PRECISION;

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
    }

    #[test]
    fn invalid_boundaries_are_rejected_with_a_reason() {
        assert!(validate(DEFAULT_BUCKETS).is_ok());
        assert!(validate(&[]).is_ok());
        assert!(
            validate(&[0.1, 0.1])
                .expect_err("invalid")
                .contains("increasing")
        );
        assert!(
            validate(&[f64::NAN])
                .expect_err("invalid")
                .contains("finite")
        );
        assert!(validate(&[-1.0]).expect_err("invalid").contains("positive"));
        assert!(validate(&[f64::INFINITY]).is_err());
        assert!(
            validate(&vec![1.0; 65])
                .expect_err("invalid")
                .contains("at most")
        );
    }
}
