use std::time::Duration;

use observe_core::{MetricsCollector, OVERFLOW_OPERATION};

#[test]
fn a_million_distinct_names_with_a_cap_of_10_000_stay_bounded() {
    let collector = MetricsCollector::builder()
        .max_operations(10_000)
        .build()
        .expect("valid config");
    for i in 0..1_000_000u32 {
        collector.record_operation(&format!("user-{i}"), Duration::from_micros(5), false);
    }
    assert_eq!(
        collector.len(),
        10_001,
        "10,000 names and the overflow entry"
    );
    let overflow = collector.get(OVERFLOW_OPERATION).expect("overflow entry");
    assert_eq!(overflow.count, 990_000);
    let summary = collector.summary();
    assert_eq!(summary.total_operations, 1_000_000);
    let folded = summary.overflowed_operations as f64;
    assert!(
        (folded / 990_000.0 - 1.0).abs() < 0.1,
        "estimated {folded} folded names"
    );
    // Names created before the cap keep recording into their own entries.
    collector.record_operation("user-0", Duration::from_micros(5), true);
    assert_eq!(collector.get("user-0").map(|op| op.error_count), Some(1));
    assert!(collector.get("user-999999").is_none());
    // Memory is bounded by the cap, not by the input.
    let per_entry = collector.memory_usage() / collector.len();
    assert!(per_entry <= 16 * 1024, "{per_entry} bytes per entry");
}

#[test]
fn long_names_are_truncated_at_a_character_boundary() {
    let collector = MetricsCollector::builder()
        .max_name_length(5)
        .build()
        .expect("valid config");
    collector.record_operation("abcdéfgh", Duration::from_millis(1), false);
    collector.record_operation("abcdé", Duration::from_millis(1), false);
    // "abcdé" is 6 bytes: both names cut to "abcd" and share the entry.
    let op = collector.get("abcd").expect("truncated entry");
    assert_eq!((op.name.as_str(), op.count), ("abcd", 2));
    assert_eq!(collector.get("abcdéfgh").map(|op| op.count), Some(2));
    assert_eq!(collector.len(), 1);
}

/// The overflow entry is named in full whatever the longest name kept: `get` finds it
/// under the name the snapshot lists.
#[test]
fn the_overflow_entry_is_found_by_name_when_names_are_kept_short() {
    let collector = MetricsCollector::builder()
        .max_operations(1)
        .max_name_length(5)
        .build()
        .expect("valid config");
    for name in ["first", "second", "third"] {
        collector.record_operation(name, Duration::from_millis(1), false);
    }
    let names: Vec<_> = collector.snapshot().into_iter().map(|op| op.name).collect();
    assert_eq!(names, [OVERFLOW_OPERATION, "first"]);
    let overflow = collector.get(OVERFLOW_OPERATION).expect("overflow entry");
    assert_eq!(
        (overflow.name.as_str(), overflow.count),
        (OVERFLOW_OPERATION, 2)
    );
    // Other names are still cut before the lookup.
    assert_eq!(collector.get("first and more").map(|op| op.count), Some(1));
}

#[test]
fn any_string_is_a_name_even_hostile_or_empty() {
    let collector = MetricsCollector::new();
    let names = [
        "",
        " ",
        "\"quoted\"",
        "back\\slash",
        "new\nline",
        "nul\0byte",
        "emoji 🚀",
        "{label=\"x\"}",
        "日本語の操作",
        &"x".repeat(10_000),
    ];
    for name in names {
        collector.record_operation(name, Duration::from_millis(1), false);
        assert!(collector.get(name).is_some(), "{name:?}");
    }
    assert_eq!(collector.len(), names.len());
    let json = serde_json::to_string(&collector.snapshot()).expect("serializes");
    let back: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(back.as_array().map(Vec::len), Some(names.len()));
}

#[test]
fn invalid_configurations_are_errors_not_panics() {
    let cases = [
        MetricsCollector::builder().max_operations(0).build(),
        MetricsCollector::builder().max_name_length(0).build(),
        MetricsCollector::builder().histogram_precision(3).build(),
        MetricsCollector::builder().histogram_precision(11).build(),
        MetricsCollector::builder()
            .recent_window(Duration::from_secs(60), 0)
            .build(),
        MetricsCollector::builder()
            .recent_window(Duration::ZERO, 6)
            .build(),
        MetricsCollector::builder()
            .recent_window(Duration::from_millis(5), 6)
            .build(),
    ];
    for case in cases {
        let err = case.expect_err("rejected");
        let message = err.to_string();
        assert!(!message.is_empty() && !message.ends_with('.'), "{message}");
    }
}
