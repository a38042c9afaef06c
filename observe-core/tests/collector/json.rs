use std::time::Duration;

use observe_core::{ManualClock, MetricsCollector};
use serde_json::{Value, json};

#[test]
fn an_operation_serializes_with_the_documented_keys() {
    let clock = ManualClock::new();
    let collector = MetricsCollector::builder()
        .clock(clock.clone())
        .build()
        .expect("valid");
    clock.advance(Duration::from_secs(10));
    collector.record_operation("create_expense", Duration::from_micros(1_500), false);
    collector.record_operation("create_expense", Duration::from_micros(2_500), true);
    let value = serde_json::to_value(collector.get("create_expense")).expect("serializes");

    for key in [
        "name",
        "count",
        "avg_duration_ms",
        "min_duration_ms",
        "max_duration_ms",
        "p50_duration_ms",
        "p90_duration_ms",
        "p95_duration_ms",
        "p99_duration_ms",
        "total_duration",
        "error_count",
        "cancelled_count",
        "error_rate",
        "last_recorded",
        "recent",
    ] {
        assert!(value.get(key).is_some(), "missing {key} in {value}");
    }
    assert_eq!(value["name"], "create_expense");
    assert_eq!(value["count"], 2);
    assert_eq!(value["avg_duration_ms"], 2.0);
    assert_eq!(value["min_duration_ms"], 1.5);
    assert_eq!(value["max_duration_ms"], 2.5);
    assert_eq!(value["total_duration"], "4ms");
    assert_eq!(value["error_rate"], 50.0);
    assert!(
        value["last_recorded"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        value["recent"],
        json!({
            "window_seconds": 10.0,
            "count": 2,
            "error_count": 1,
            "rate_per_second": 0.2,
            "error_rate": 50.0,
            "p95_duration_ms": value["recent"]["p95_duration_ms"],
            "p99_duration_ms": value["recent"]["p99_duration_ms"],
        })
    );
}

#[test]
fn last_recorded_is_null_before_the_first_record() {
    let collector = MetricsCollector::new();
    let _handle = collector.operation("idle");
    let value = serde_json::to_value(collector.get("idle")).expect("serializes");
    assert_eq!(value["last_recorded"], Value::Null);
    assert_eq!(value["count"], 0);
}

#[test]
fn the_summary_serializes_with_the_documented_keys() {
    let clock = ManualClock::new();
    let collector = MetricsCollector::builder()
        .clock(clock.clone())
        .build()
        .expect("valid");
    collector.record_operation("a", Duration::from_millis(1), false);
    collector.record_operation("b", Duration::from_millis(3), true);
    clock.advance(Duration::from_secs(135));
    let value = serde_json::to_value(collector.summary()).expect("serializes");
    assert_eq!(
        value,
        json!({
            "uptime": "2m15s",
            "uptime_seconds": 135,
            "total_operations": 2,
            "total_errors": 1,
            "error_rate": 50.0,
            "avg_latency_ms": 2.0,
            "max_latency_ms": 3.0,
            "monitored_operations": 2,
            "overflowed_operations": 0,
        })
    );
}

#[test]
fn snapshots_are_sorted_by_name() {
    let collector = MetricsCollector::new();
    for name in ["zeta", "alpha", "mid", ""] {
        collector.record_operation(name, Duration::from_millis(1), false);
    }
    let names: Vec<_> = collector.snapshot().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["", "alpha", "mid", "zeta"]);
}
