//! Exemplars: only in OpenMetrics, only on `_bucket` lines, only from sampled traces.

use std::time::Duration;

use observe_core::prometheus::ExpositionFormat;
use observe_core::{ManualClock, MetricsCollector, Outcome, TraceContext};

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-11111111111111111111111111111111-2222222222222222-00";

fn trace(header: &str) -> TraceContext {
    TraceContext::from_traceparent(header).expect("a valid header")
}

fn collector() -> MetricsCollector {
    MetricsCollector::builder()
        .prometheus_buckets([0.01, 0.1, 1.0])
        .process_metrics(false)
        .build()
        .expect("a valid configuration")
}

#[test]
fn a_sampled_trace_is_an_exemplar_of_its_bucket_in_openmetrics_only() {
    let collector = collector();
    let checkout = collector.operation("checkout");
    checkout.record(Duration::from_millis(5), false);
    checkout.record_traced(Duration::from_millis(87), Outcome::Ok, &trace(SAMPLED));
    checkout.record_traced(Duration::from_millis(500), Outcome::Ok, &trace(UNSAMPLED));

    let open = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    let with_exemplar: Vec<&str> = open.lines().filter(|l| l.contains(" # {")).collect();
    assert_eq!(with_exemplar.len(), 1, "{open}");
    let line = with_exemplar[0];
    let expected = "observe_operation_duration_seconds_bucket{le=\"0.1\",operation=\"checkout\"} 2 \
                    # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} 0.087 ";
    assert!(line.starts_with(expected), "{line}");
    let timestamp: f64 = line[expected.len()..].parse().expect("a timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!((now - timestamp).abs() < 60.0, "{timestamp} vs {now}");
    // Labels within the 128 characters Prometheus keeps.
    let labels = &line[line.find("# {").expect("labels") + 3..line.find("} 0.087").expect("end")];
    assert!(labels.chars().count() <= 128);

    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(!text.contains(" # {"), "no exemplar in text 0.0.4: {text}");
    assert!(!text.contains("4bf92f35"), "{text}");
}

#[test]
fn exemplars_parse_as_openmetrics() {
    let collector = collector();
    for (i, ms) in [3u64, 30, 300, 3_000].into_iter().enumerate() {
        let ctx = TraceContext::new(i as u128 + 1, i as u64 + 1, true).expect("non-zero");
        collector.record_traced("api", Duration::from_millis(ms), Outcome::Ok, &ctx);
    }
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert_eq!(
        text.matches(" # {trace_id=").count(),
        4,
        "one per bucket: {text}"
    );
    let without_units: String = text
        .lines()
        .filter(|l| !l.starts_with("# UNIT "))
        .map(|l| format!("{l}\n"))
        .collect();
    openmetrics_parser::openmetrics::parse_openmetrics(&without_units)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    for line in text.lines().filter(|l| l.contains(" # {")) {
        assert!(
            line.contains("_bucket{"),
            "an exemplar off a bucket: {line}"
        );
    }
}

#[test]
fn the_json_view_lists_the_slowest_recent_exemplars() {
    let clock = ManualClock::new();
    let collector = MetricsCollector::builder()
        .clock(clock.clone())
        .prometheus_buckets([0.001, 0.01, 0.1, 1.0, 10.0])
        .build()
        .expect("a valid configuration");
    for (i, ms) in [2u64, 20, 200, 2_000, 20_000, 15].into_iter().enumerate() {
        let ctx = TraceContext::new(i as u128 + 1, i as u64 + 1, true).expect("non-zero");
        collector.record_traced("job", Duration::from_millis(ms), Outcome::Ok, &ctx);
    }
    let op = collector.get("job").expect("recorded");
    let durations: Vec<_> = op
        .exemplars
        .iter()
        .map(|e| e.duration.as_millis())
        .collect();
    // 15 ms came after 20 ms into the same bucket: the latest of a bucket is kept.
    assert_eq!(
        durations,
        [20_000, 2_000, 200, 15, 2],
        "slowest first, at most five"
    );
    let json = serde_json::to_value(&op).expect("json");
    assert_eq!(
        json["exemplars"][0]["trace_id"],
        "00000000000000000000000000000005"
    );
    assert_eq!(json["exemplars"][0]["span_id"], "0000000000000005");
    assert_eq!(json["exemplars"][0]["duration_ms"], 20_000.0);

    clock.advance(Duration::from_secs(3_600));
    assert!(
        collector
            .get("job")
            .expect("still there")
            .exemplars
            .is_empty(),
        "old ones leave"
    );
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert!(
        text.contains(" # {trace_id="),
        "the exposition keeps the latest per bucket"
    );
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_carries_exemplars_on_classic_buckets_only() {
    use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::MetricFamily;
    use prost::Message;

    let collector = collector();
    collector.operation("checkout").record_traced(
        Duration::from_millis(87),
        Outcome::Ok,
        &trace(SAMPLED),
    );
    collector.record_operation("quiet", Duration::from_millis(87), false);
    let encoded = collector.encode_protobuf().expect("encodes");
    let mut body: &[u8] = encoded.as_ref();
    let mut families = Vec::new();
    while !body.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut body).expect("a family"));
    }
    let duration = families
        .iter()
        .find(|f| f.name == "observe_operation_duration_seconds")
        .expect("the duration family");
    let mut seen = 0;
    for metric in &duration.metric {
        let operation = metric.label.iter().find(|l| l.name == "operation");
        let operation = operation.map(|l| l.value.as_str()).unwrap_or_default();
        let histogram = metric.histogram.as_ref().expect("a histogram");
        for bucket in &histogram.bucket {
            let Some(exemplar) = &bucket.exemplar else {
                continue;
            };
            seen += 1;
            assert_eq!(operation, "checkout");
            assert_eq!(bucket.upper_bound, 0.1, "the bucket the record landed in");
            let labels: Vec<_> = exemplar
                .label
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            assert_eq!(
                labels,
                [
                    (
                        "trace_id".to_owned(),
                        "4bf92f3577b34da6a3ce929d0e0e4736".to_owned()
                    ),
                    ("span_id".to_owned(), "00f067aa0ba902b7".to_owned())
                ]
            );
            assert_eq!(exemplar.value, 0.087);
            assert!(
                exemplar
                    .timestamp
                    .as_ref()
                    .is_some_and(|t| t.seconds > 1_700_000_000)
            );
        }
    }
    assert_eq!(seen, 1, "one exemplar, on one bucket");
    for family in &families {
        for metric in &family.metric {
            if let Some(counter) = &metric.counter {
                assert!(counter.exemplar.is_none(), "{:?}", family.name);
            }
        }
    }
}
