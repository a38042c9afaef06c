//! Prometheus `le` buckets, counted exactly on the recording path.
//!
//! Each operation keeps one counter per configured bucket (plus `+Inf`). Finding the
//! bucket must cost less than the atomic add it guards, so a table maps every fine
//! histogram bucket to its `le` bucket; only the few fine buckets that straddle a
//! boundary fall back to comparing the exact duration.

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
            .collect();
        Self {
            seconds: seconds.into(),
            nanos,
            table,
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

    /// The `le` bucket of a duration of `ns` that fell in fine bucket `fine`.
    #[inline]
    pub(crate) fn index(&self, fine: usize, ns: u64) -> usize {
        match self.table.get(fine) {
            Some(&entry) if entry & STRADDLES == 0 => usize::from(entry),
            _ => self.nanos.partition_point(|&b| b < ns),
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
