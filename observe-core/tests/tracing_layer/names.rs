//! Operation names: the span's name, `target::name`, `otel.name`, and the cap.

use observe_core::{MetricsCollector, OVERFLOW_OPERATION};

use crate::{with_default_layer, with_layer};

#[test]
fn otel_name_overrides_the_span_name() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        for route in ["GET /expenses", "GET /expenses", "POST /expenses"] {
            tracing::info_span!("request", otel.name = %route).in_scope(|| {
                tracing::warn!("slow");
            });
        }
        tracing::info_span!("request", otel.name = "GET /health").in_scope(|| {});
    });
    assert_eq!(collector.get("GET /expenses").map(|op| op.count), Some(2));
    assert_eq!(collector.get("POST /expenses").map(|op| op.count), Some(1));
    assert_eq!(collector.get("GET /health").map(|op| op.count), Some(1));
    assert!(
        collector.get("request").is_none(),
        "the span name is not used"
    );
    assert_eq!(
        collector.get("GET /expenses").map(|op| op.warn_events),
        Some(2)
    );
}

#[test]
fn target_names_prefix_the_target() {
    let collector = MetricsCollector::new();
    with_layer(
        &collector,
        |l| l.with_target_names(true),
        || {
            tracing::info_span!(target: "shop::cart", "add_item").in_scope(|| {});
        },
    );
    assert_eq!(
        collector.get("shop::cart::add_item").map(|op| op.count),
        Some(1)
    );
}

#[test]
fn a_busy_name_keeps_its_suffix_however_long_the_name() {
    let collector = MetricsCollector::builder()
        .max_name_length(16)
        .build()
        .expect("a valid configuration");
    with_layer(
        &collector,
        |l| l.with_busy_time(true),
        || {
            tracing::info_span!("a_rather_long_operation_name").in_scope(|| {});
        },
    );
    assert!(collector.get("a_rather_long_op").is_some());
    assert!(collector.get("a_rather_lo.busy").is_some());
}

#[test]
fn a_million_distinct_otel_names_stay_within_the_cap() {
    let collector = MetricsCollector::builder()
        .max_operations(1_000)
        .build()
        .expect("a valid configuration");
    with_default_layer(&collector, || {
        for i in 0..1_000_000u32 {
            tracing::info_span!("flood", otel.name = i).in_scope(|| {});
        }
    });
    assert_eq!(collector.len(), 1_001, "the cap and the overflow entry");
    let overflow = collector
        .get(OVERFLOW_OPERATION)
        .expect("the overflow entry");
    let kept: u64 = collector
        .snapshot()
        .iter()
        .filter(|op| op.name != OVERFLOW_OPERATION)
        .map(|op| op.count)
        .sum();
    assert_eq!(kept + overflow.count, 1_000_000, "no record lost");
    let summary = collector.summary();
    assert!(
        summary.overflowed_operations > 900_000,
        "{}",
        summary.overflowed_operations
    );
}

#[cfg(feature = "prometheus")]
#[test]
fn events_are_exported_per_operation_and_level() {
    use observe_core::prometheus::ExpositionFormat;

    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("a valid configuration");
    with_default_layer(&collector, || {
        tracing::info_span!("noisy").in_scope(|| {
            tracing::warn!("one");
            tracing::warn!("two");
            tracing::error!("three");
        });
        tracing::info_span!("silent").in_scope(|| tracing::info!("fine"));
    });
    // A second layer on the same collector registers the family once.
    let _again = observe_core::tracing::layer(&collector);
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(
        text.contains("observe_operation_events_total{operation=\"noisy\",level=\"warn\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("observe_operation_events_total{operation=\"noisy\",level=\"error\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("operation=\"silent\",level"),
        "an operation without events has no series"
    );
    assert_eq!(
        text.matches("# TYPE observe_operation_events_total counter")
            .count(),
        1,
        "{text}"
    );
    let json = serde_json::to_value(collector.get("noisy").expect("recorded")).expect("json");
    assert_eq!(json["events"], serde_json::json!({"warn": 2, "error": 1}));
    collector.reset();
    let after = collector.get("noisy").expect("still there");
    assert_eq!(
        (after.warn_events, after.error_events),
        (0, 0),
        "the JSON views restart"
    );
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(
        text.contains("level=\"warn\"} 2\n"),
        "exported counters stay monotonic"
    );
}
