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
