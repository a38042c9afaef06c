//! Quantiles from the histogram against exact quantiles of the same samples.

use std::time::Duration;

use observe_core::{MetricsCollector, OperationSnapshot};
use proptest::prelude::*;

const MICRO: f64 = 1_000.0;
const HOUR: f64 = 3_600e9;

/// Nearest-rank quantile of sorted samples.
fn exact(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn record_all(samples: &[u64]) -> OperationSnapshot {
    let collector = MetricsCollector::new();
    let op = collector.operation("sampled");
    for &ns in samples {
        op.record(Duration::from_nanos(ns), false);
    }
    collector.get("sampled").expect("recorded")
}

fn assert_within_one_percent(samples: &mut [u64]) {
    let snap = record_all(samples);
    samples.sort_unstable();
    for (q, got) in [(0.5, snap.p50), (0.9, snap.p90), (0.99, snap.p99)] {
        let want = exact(samples, q) as f64;
        let got = got.as_nanos() as f64;
        let error = (got - want).abs() / want;
        assert!(
            error <= 0.01,
            "q{q}: got {got} ns, exact {want} ns, error {:.3}%",
            error * 100.0
        );
    }
    assert_eq!(snap.min.as_nanos() as u64, samples[0]);
    assert_eq!(snap.max.as_nanos() as u64, samples[samples.len() - 1]);
}

/// A small deterministic generator (xorshift) so the named distributions need no crate.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64().max(f64::MIN_POSITIVE), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[test]
fn uniform_samples_from_1us_to_1h() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut samples: Vec<u64> = (0..100_000)
        .map(|_| (MICRO + rng.next_f64() * (HOUR - MICRO)) as u64)
        .collect();
    assert_within_one_percent(&mut samples);
}

#[test]
fn log_uniform_samples_from_1us_to_1h() {
    let mut rng = Rng(7);
    let (lo, hi) = (MICRO.ln(), HOUR.ln());
    let mut samples: Vec<u64> = (0..100_000)
        .map(|_| (lo + rng.next_f64() * (hi - lo)).exp() as u64)
        .collect();
    assert_within_one_percent(&mut samples);
}

#[test]
fn log_normal_latencies() {
    let mut rng = Rng(42);
    // Median 20 ms, heavy right tail.
    let mut samples: Vec<u64> = (0..100_000)
        .map(|_| {
            ((20e6f64).ln() + 1.2 * rng.normal())
                .exp()
                .clamp(MICRO, HOUR) as u64
        })
        .collect();
    assert_within_one_percent(&mut samples);
}

#[test]
fn bimodal_cache_hits_and_misses() {
    let mut rng = Rng(1234);
    let mut samples: Vec<u64> = (0..100_000)
        .map(|i| {
            let (center, spread) = if i % 10 < 8 {
                (150e3, 20e3)
            } else {
                (45e6, 8e6)
            };
            (center + spread * rng.normal()).clamp(MICRO, HOUR) as u64
        })
        .collect();
    assert_within_one_percent(&mut samples);
}

#[test]
fn a_single_value_is_every_quantile() {
    let snap = record_all(&[123_456_789]);
    for q in [
        snap.p50, snap.p90, snap.p95, snap.p99, snap.p999, snap.min, snap.max, snap.mean,
    ] {
        assert_eq!(q, Duration::from_nanos(123_456_789));
    }
}

#[test]
fn durations_beyond_the_top_bucket_keep_an_exact_max() {
    let week = Duration::from_secs(7 * 86_400);
    let snap = record_all(&[1_000, week.as_nanos() as u64]);
    assert_eq!(snap.max, week);
    assert!(snap.p99 <= week);
    // Absurd durations are clamped, never a panic.
    let collector = MetricsCollector::new();
    collector.record_operation("x", Duration::MAX, false);
    collector.record_operation("x", Duration::MAX, false);
    let op = collector.get("x").expect("recorded");
    assert_eq!(op.count, 2);
    assert!(op.total >= op.max);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_samples_in_range_give_quantiles_within_one_percent(
        mut samples in prop::collection::vec(1_000u64..3_600_000_000_000, 1..2_000)
    ) {
        assert_within_one_percent(&mut samples);
    }

    #[test]
    fn quantiles_are_ordered_and_bounded_by_min_and_max(
        samples in prop::collection::vec(0u64..u64::MAX, 1..500)
    ) {
        let snap = record_all(&samples);
        let qs = [snap.min, snap.p50, snap.p90, snap.p95, snap.p99, snap.p999, snap.max];
        prop_assert!(qs.windows(2).all(|w| w[0] <= w[1]), "{qs:?}");
    }
}
