use std::time::Duration;

use observe_core::{ManualClock, MetricsCollector};

fn collector(clock: &ManualClock) -> MetricsCollector {
    MetricsCollector::builder()
        .clock(clock.clone())
        .recent_window(Duration::from_secs(60), 6)
        .build()
        .expect("valid config")
}

#[test]
fn errors_older_than_the_window_leave_the_recent_rate_but_not_the_lifetime_rate() {
    let clock = ManualClock::new();
    let collector = collector(&clock);
    // An outage: 50 failures out of 100.
    for i in 0..100 {
        collector.record_operation("checkout", Duration::from_millis(10), i % 2 == 0);
    }
    let during = collector.get("checkout").expect("recorded");
    assert_eq!(during.recent.error_rate, 50.0);

    // Two minutes later, all is well again.
    clock.advance(Duration::from_secs(120));
    for _ in 0..100 {
        collector.record_operation("checkout", Duration::from_millis(10), false);
    }
    let after = collector.get("checkout").expect("recorded");
    assert_eq!((after.recent.count, after.recent.error_count), (100, 0));
    assert_eq!(after.recent.error_rate, 0.0);
    assert_eq!(
        after.error_rate(),
        25.0,
        "the lifetime rate keeps the outage"
    );
}

#[test]
fn the_recent_rate_is_per_second_of_covered_time() {
    let clock = ManualClock::new();
    let collector = collector(&clock);
    clock.advance(Duration::from_secs(10));
    for _ in 0..50 {
        collector.record_operation("op", Duration::from_millis(1), false);
    }
    let op = collector.get("op").expect("recorded");
    // The collector is 10 s old: 50 records in 10 s.
    assert_eq!(op.recent.window, Duration::from_secs(10));
    assert_eq!(op.recent.rate_per_second, 5.0);

    clock.advance(Duration::from_secs(500));
    for _ in 0..60 {
        collector.record_operation("op", Duration::from_millis(1), false);
    }
    let op = collector.get("op").expect("recorded");
    assert_eq!(op.recent.count, 60);
    assert!(op.recent.window <= Duration::from_secs(60));
    assert!(op.recent.window >= Duration::from_secs(50));
}

#[test]
fn the_recent_p95_follows_recent_latency() {
    let clock = ManualClock::new();
    let collector = collector(&clock);
    for _ in 0..100 {
        collector.record_operation("op", Duration::from_millis(5), false);
    }
    clock.advance(Duration::from_secs(90));
    for _ in 0..100 {
        collector.record_operation("op", Duration::from_millis(400), false);
    }
    let op = collector.get("op").expect("recorded");
    let p95 = op.recent.p95.expect("records in the window");
    let error = (p95.as_secs_f64() / 0.4 - 1.0).abs();
    assert!(error <= 0.0625, "recent p95 {p95:?}");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(collector.get("op").and_then(|op| op.recent.p95), None);
}

#[test]
fn last_recorded_and_uptime_follow_the_clock() {
    let clock = ManualClock::new();
    let collector = collector(&clock);
    collector.record_operation("op", Duration::from_millis(1), false);
    let first = collector
        .get("op")
        .and_then(|op| op.last_recorded)
        .expect("stamped");
    clock.advance(Duration::from_secs(30));
    collector.record_operation("op", Duration::from_millis(1), false);
    let second = collector
        .get("op")
        .and_then(|op| op.last_recorded)
        .expect("stamped");
    assert_eq!(
        second.duration_since(first).ok(),
        Some(Duration::from_secs(30))
    );
    assert_eq!(collector.summary().uptime, Duration::from_secs(30));
}

#[test]
fn the_recent_p95_never_exceeds_the_longest_duration_seen() {
    let clock = ManualClock::new();
    let collector = collector(&clock);
    // Durations in the middle of wide coarse buckets, where a midpoint would overshoot.
    for micros in [5_824, 93, 1_000_001] {
        collector.record_operation(&format!("op{micros}"), Duration::from_micros(micros), false);
        let op = collector.get(&format!("op{micros}")).expect("recorded");
        let p95 = op.recent.p95.expect("one record in the window");
        assert!(
            p95 <= op.max && p95 >= op.min,
            "{p95:?} outside [{:?}, {:?}]",
            op.min,
            op.max
        );
    }
}
