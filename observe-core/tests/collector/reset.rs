use std::time::Duration;

use observe_core::MetricsCollector;

#[test]
fn reset_restarts_the_views_and_keeps_entries_and_handles() {
    let collector = MetricsCollector::new();
    let handle = collector.operation("op");
    handle.record(Duration::from_millis(100), true);
    drop(handle.start_timer());
    collector.reset();

    let op = collector.get("op").expect("entry kept");
    assert_eq!((op.count, op.error_count, op.cancelled_count), (0, 0, 0));
    assert_eq!(
        (op.total, op.max, op.p99),
        (Duration::ZERO, Duration::ZERO, Duration::ZERO)
    );
    assert_eq!((op.last_recorded, op.recent.count), (None, 0));
    assert_eq!(collector.summary().total_operations, 0);

    handle.record(Duration::from_millis(2), false);
    handle.record(Duration::from_millis(4), true);
    let op = collector.get("op").expect("entry kept");
    assert_eq!((op.count, op.error_count), (2, 1));
    assert_eq!(
        (op.min, op.max),
        (Duration::from_millis(2), Duration::from_millis(4))
    );
    assert_eq!(op.total, Duration::from_millis(6));
}

#[test]
fn the_summary_agrees_with_the_snapshots_before_and_after_a_reset() {
    let collector = MetricsCollector::new();
    let record = |n: u64| {
        for i in 0..n {
            let name = format!("op{}", i % 7);
            collector.record_operation(&name, Duration::from_micros(50 + i * 13), i % 5 == 0);
        }
    };
    let agree = || {
        let snapshots = collector.snapshot();
        let summary = collector.summary();
        let count: u64 = snapshots.iter().map(|s| s.count).sum();
        let errors: u64 = snapshots.iter().map(|s| s.error_count).sum();
        let max = snapshots.iter().map(|s| s.max).max().unwrap_or_default();
        assert_eq!(
            (
                summary.total_operations,
                summary.total_errors,
                summary.max_latency
            ),
            (count, errors, max)
        );
        summary
    };
    record(1_000);
    assert_eq!(agree().total_operations, 1_000);
    collector.reset();
    assert_eq!(agree().total_operations, 0);
    record(70);
    let after = agree();
    assert_eq!((after.total_operations, after.total_errors), (70, 14));
}
