//! The protobuf exposition: decoded with the structs generated from Prometheus's own
//! `metrics.proto`, the native buckets checked against the records, the text formats
//! untouched by native export.

use std::time::Duration;

use observe_core::MetricsCollector;
use observe_core::prometheus::ExpositionFormat;
use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::{
    Histogram, MetricFamily,
};
use prometheus_client::metrics::counter::Counter;
use prost::Message;

use super::HOSTILE;

fn decode(mut body: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !body.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut body).expect("a MetricFamily"));
    }
    families
}

fn records(collector: &MetricsCollector) {
    for (i, name) in HOSTILE.iter().enumerate() {
        for j in 0..=i as u64 {
            let took = Duration::from_micros(1 + j * j * 97_919);
            collector.record_operation(name, took, j == 1);
        }
    }
    let cancelled = observe_core::Outcome::Cancelled;
    collector.record_outcome("abandoned", Duration::from_millis(2), cancelled);
    collector.reset();
    collector.record_operation("after reset", Duration::from_nanos(1), false);
    collector.record_operation("after reset", Duration::from_secs(3), false);
}

/// Each native bucket's absolute count, with its index, from spans and deltas.
fn native_buckets(h: &Histogram) -> Vec<(i32, u64)> {
    let mut out = Vec::new();
    let mut index = 0;
    let mut count = 0i64;
    let mut deltas = h.positive_delta.iter();
    // The first offset is the first index; each later one the gap after the span before.
    for span in &h.positive_span {
        index += span.offset;
        for _ in 0..span.length {
            count += deltas.next().expect("a delta per bucket");
            out.push((index, u64::try_from(count).expect("counts are positive")));
            index += 1;
        }
    }
    assert!(deltas.next().is_none(), "no delta left over");
    out
}

#[test]
fn hand_written_protobuf_equals_prometheus_clients_message_for_message() {
    for native in [None, Some(-2), Some(3), Some(6)] {
        let build = |registry: Option<prometheus_client::registry::Registry>| {
            let mut builder = MetricsCollector::builder()
                .namespace("svc")
                .process_metrics(false);
            if let Some(schema) = native {
                builder = builder.native_histograms(schema);
            }
            let collector = match registry {
                Some(registry) => builder.prometheus_registry(registry),
                None => builder,
            }
            .build()
            .expect("valid");
            records(&collector);
            let orders: Counter = Counter::default();
            orders.inc_by(3);
            collector.register_metric("svc_orders", "Orders", orders);
            collector
        };
        let by_hand = decode(&build(None).encode_protobuf().expect("encodes"));
        let through_client = decode(
            &build(Some(prometheus_client::registry::Registry::default()))
                .encode_protobuf()
                .expect("encodes"),
        );
        let names: Vec<_> = by_hand.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "svc_operations_total",
                "svc_operation_errors_total",
                "svc_operation_cancelled_total",
                "svc_operation_duration_seconds",
                "svc_build_info",
                "svc_orders_total",
            ]
        );
        // prometheus-client writes the unit of a family; the hand-written one leaves
        // it out, as client_golang does (Prometheus reads the unit from the name).
        let strip = |mut families: Vec<MetricFamily>| {
            for family in &mut families {
                family.unit.clear();
            }
            families
        };
        let (by_hand, through_client) = (strip(by_hand), strip(through_client));
        // The user's registry encodes its metrics before its collectors.
        let mut reordered = through_client.clone();
        let orders = reordered.remove(0);
        reordered.push(orders);
        assert_eq!(by_hand, reordered, "native {native:?}");
        let duration = &by_hand[3];
        for metric in &duration.metric {
            let h = metric.histogram.as_ref().expect("a histogram");
            match native {
                None => assert!(h.positive_span.is_empty() && h.zero_threshold == 0.0),
                Some(schema) => {
                    assert_eq!(h.schema, i32::from(schema));
                    let total: u64 = native_buckets(h).iter().map(|b| b.1).sum();
                    assert_eq!(total + h.zero_count, h.sample_count, "native counts add up");
                }
            }
        }
    }
}

#[test]
fn native_buckets_hold_each_duration_and_count_across_resets() {
    let collector = MetricsCollector::builder()
        .native_histograms(5)
        .process_metrics(false)
        .build()
        .expect("valid");
    let durations = [0.000_3, 0.004, 0.004, 0.047, 1.5, 20.0];
    for (i, &seconds) in durations.iter().enumerate() {
        collector.record_operation("op", Duration::from_secs_f64(seconds), false);
        if i == 2 {
            collector.reset();
        }
    }
    let families = decode(&collector.encode_protobuf().expect("encodes"));
    let duration = families
        .iter()
        .find(|f| f.name == "observe_operation_duration_seconds")
        .expect("duration family");
    let h = duration.metric[0].histogram.as_ref().expect("histogram");
    assert_eq!(h.sample_count, 6);
    assert!((h.sample_sum - durations.iter().sum::<f64>()).abs() < 1e-6);
    let buckets = native_buckets(h);
    let base = 2f64.powf(2f64.powi(-5));
    // Each record lands in the native bucket of its fine bucket's midpoint (within
    // 0.8 % of the duration).
    for &seconds in &durations {
        let found = buckets.iter().any(|(index, _)| {
            let upper = base.powi(*index);
            upper / base < seconds * 1.008 && seconds <= upper * 1.008
        });
        assert!(found, "a bucket near {seconds} in {buckets:?}");
    }
    let twice = buckets
        .iter()
        .find(|b| b.1 == 2)
        .expect("the two 4 ms records");
    assert!(base.powi(twice.0 - 1) < 0.004 * 1.008 && 0.004 <= base.powi(twice.0) * 1.008);
    assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 6);
}

#[test]
fn native_export_changes_no_byte_of_either_text_format() {
    for registry in [false, true] {
        let build = |native: bool| {
            let mut builder = MetricsCollector::builder().process_metrics(false);
            if native {
                builder = builder.native_histograms(3);
            }
            if registry {
                builder = builder.prometheus_registry(Default::default());
            }
            let collector = builder.build().expect("valid");
            records(&collector);
            collector
        };
        let (classic, native) = (build(false), build(true));
        for format in [ExpositionFormat::Prometheus, ExpositionFormat::OpenMetrics] {
            let a = classic.encode_prometheus(format).expect("encodes");
            let b = native.encode_prometheus(format).expect("encodes");
            assert_eq!(a, b, "{format:?}, registry of one's own: {registry}");
        }
        // The protobuf exposition does differ.
        assert_ne!(
            classic.encode_protobuf().expect("encodes").into_vec(),
            native.encode_protobuf().expect("encodes").into_vec()
        );
    }
}

#[test]
fn a_wide_spread_lowers_the_schema_and_it_stays_lowered() {
    let collector = MetricsCollector::builder()
        .native_histograms(6)
        .native_max_buckets(40)
        .process_metrics(false)
        .build()
        .expect("valid");
    let schema_now = |collector: &MetricsCollector| {
        let families = decode(&collector.encode_protobuf().expect("encodes"));
        let duration = families
            .iter()
            .find(|f| f.name == "observe_operation_duration_seconds")
            .expect("duration family");
        let h = duration.metric[0].histogram.as_ref().expect("histogram");
        let populated: u32 = h.positive_span.iter().map(|s| s.length).sum();
        assert!(populated <= 40, "{populated}");
        h.schema
    };
    collector.record_operation("op", Duration::from_millis(10), false);
    assert_eq!(schema_now(&collector), 6);
    for i in 0..2_000u64 {
        collector.record_operation("op", Duration::from_micros(100 + i * i * 3), false);
    }
    let lowered = schema_now(&collector);
    assert!(lowered < 6, "{lowered}");
    collector.reset();
    assert_eq!(
        schema_now(&collector),
        lowered,
        "counts live on across reset"
    );
}

#[test]
fn native_settings_out_of_range_are_build_errors() {
    for schema in [-5, 7, 8, i8::MAX, i8::MIN] {
        let err = MetricsCollector::builder()
            .native_histograms(schema)
            .build()
            .expect_err("out of range");
        assert!(
            matches!(err, observe_core::BuildError::NativeSchema { .. }),
            "{err}"
        );
    }
    let err = MetricsCollector::builder()
        .native_histograms(3)
        .native_zero_threshold(-1.0)
        .build()
        .expect_err("negative threshold");
    assert_eq!(
        err.to_string(),
        "the native histogram zero threshold must be finite and positive, got -1"
    );
}
