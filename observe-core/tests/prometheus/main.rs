//! The exposition, checked by the real `promtool` and parsed back by a parser crate.

mod exemplars;
mod families;
mod fuzz_found;
mod promtool;
#[cfg(feature = "protobuf")]
mod protobuf;

use std::time::Duration;

use observe_core::prometheus::ExpositionFormat;
use observe_core::{MetricsCollector, OperationSnapshot};
use openmetrics_parser::{MetricNumber, PrometheusValue, prometheus::parse_prometheus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

pub(crate) const HOSTILE: &[&str] = &[
    "create_expense",
    "",
    "say \"hi\"",
    "back\\slash\\",
    "new\nline",
    "tab\tand {braces} and, comma=",
    "日本語 ünïcödé 🚀",
    "# HELP not_a_comment",
    "ends with backslash\\",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: String,
    result: String,
}

fn populated() -> MetricsCollector {
    let collector = MetricsCollector::builder()
        .namespace("svc")
        .build()
        .expect("valid");
    for (i, name) in HOSTILE.iter().enumerate() {
        for j in 0..=i as u64 {
            let failed = j % 3 == 0;
            collector.record_operation(name, Duration::from_micros(300 + j * 7_919), failed);
        }
    }
    drop(collector.start_timer("abandoned"));

    let tokens: Counter = Counter::default();
    tokens.inc_by(1234);
    collector.register_metric("svc_tokens_used", "Tokens used by the model", tokens);
    let conversations: Gauge = Gauge::default();
    conversations.set(7);
    collector.register_metric(
        "svc_active_conversations",
        "Open conversations",
        conversations,
    );
    let cache = Family::<CacheLabels, Counter>::default();
    cache
        .get_or_create(&CacheLabels {
            cache: "in\"process".into(),
            result: "hit".into(),
        })
        .inc();
    collector.register_metric("svc_cache_requests", "Cache lookups", cache);
    let sizes = Histogram::new([10.0, 100.0]);
    sizes.observe(42.0);
    collector.register_metric("svc_payload_bytes", "Payload sizes", sizes);
    collector
}

fn number(n: &MetricNumber) -> f64 {
    n.as_f64()
}

/// Finds the sample of `family` whose only label is `operation = name`.
/// Resets racing with recorders and scrapes: no scrape sees a counter or bucket lower
/// than the one before, and none of the records is lost from the exported counters.
#[test]
fn resets_racing_with_recorders_and_scrapes_lose_nothing() {
    const EACH: u64 = 20_000;
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("valid");
    let values = |text: &str| -> Vec<u64> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.contains("_sum{") && !l.contains("build_info"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
            .collect()
    };
    std::thread::scope(|scope| {
        let recorders: Vec<_> = (0..2u64)
            .map(|t| {
                let collector = collector.clone();
                scope.spawn(move || {
                    for i in 0..EACH {
                        let took = Duration::from_nanos(1 + (i * 7_919 + t) % 3_000_000_000);
                        collector.record_operation("raced", took, i % 5 == 0);
                    }
                })
            })
            .collect();
        let collector_ref = &collector;
        let resetter = scope.spawn(move || {
            let collector = collector_ref;
            while !recorders.iter().all(|r| r.is_finished()) {
                collector.reset();
                std::thread::yield_now();
            }
        });
        let mut previous = Vec::new();
        while !resetter.is_finished() {
            let text = collector
                .encode_prometheus(ExpositionFormat::Prometheus)
                .expect("encodes");
            let now = values(&text);
            if now.len() == previous.len() {
                for (new, old) in now.iter().zip(&previous) {
                    assert!(new >= old, "{old} -> {new}\n{text}");
                }
            }
            previous = now;
        }
    });
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(text.contains(&format!(
        "observe_operations_total{{operation=\"raced\"}} {}\n",
        2 * EACH
    )));
    assert!(text.contains(&format!(
        "observe_operation_errors_total{{operation=\"raced\"}} {}\n",
        2 * EACH / 5
    )));
    assert!(text.contains(&format!(
        "observe_operation_duration_seconds_bucket{{le=\"+Inf\",operation=\"raced\"}} {}\n",
        2 * EACH
    )));
}

fn sample<'a>(
    exposition: &'a openmetrics_parser::MetricsExposition<
        openmetrics_parser::PrometheusType,
        PrometheusValue,
    >,
    family: &str,
    name: &str,
) -> &'a PrometheusValue {
    let family = exposition
        .families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    &family
        .get_sample_by_label_values(&[name.to_owned()])
        .unwrap_or_else(|| panic!("no sample for {name:?} in {}", family.family_name))
        .value
}

fn assert_matches_snapshot(text: &str, snapshots: &[OperationSnapshot]) {
    let exposition = parse_prometheus(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    for snap in snapshots {
        let counter = |family| match sample(&exposition, family, &snap.name) {
            PrometheusValue::Counter(c) => number(&c.value) as u64,
            other => panic!("{family} is not a counter: {other:?}"),
        };
        assert_eq!(
            counter("svc_operations_total"),
            snap.count,
            "{:?}",
            snap.name
        );
        assert_eq!(counter("svc_operation_errors_total"), snap.error_count);
        assert_eq!(
            counter("svc_operation_cancelled_total"),
            snap.cancelled_count
        );
        let PrometheusValue::Histogram(h) =
            sample(&exposition, "svc_operation_duration_seconds", &snap.name)
        else {
            panic!("not a histogram");
        };
        assert_eq!(h.count, Some(snap.count));
        let sum = h.sum.as_ref().map(number).expect("sum");
        assert!(
            (sum - snap.total.as_secs_f64()).abs() < 1e-9,
            "{sum} vs {:?}",
            snap.total
        );
        let inf = h
            .buckets
            .iter()
            .find(|b| b.upper_bound.is_infinite())
            .expect("+Inf");
        assert_eq!(number(&inf.count) as u64, snap.count);
    }
}

#[test]
fn hostile_names_and_user_metrics_parse_back_to_the_snapshot() {
    let collector = populated();
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert_matches_snapshot(&text, &collector.snapshot());
    assert!(text.contains("svc_tokens_used_total 1234\n"), "{text}");
    assert!(text.contains("svc_active_conversations 7\n"));
    assert!(text.contains(r#"svc_cache_requests_total{cache="in\"process",result="hit"} 1"#));
    assert!(text.contains("# TYPE svc_build_info gauge\n"));
    assert!(text.contains("# TYPE process_resident_memory_bytes gauge\n"));
    assert!(!text.contains("# EOF"));
    promtool::check(&text);
}

#[test]
fn le_buckets_count_exactly_at_their_boundaries() {
    let collector = MetricsCollector::builder()
        .prometheus_buckets([0.001, 0.01])
        .process_metrics(false)
        .build()
        .expect("valid");
    for micros in [999, 1_000, 1_001, 10_000, 10_001] {
        collector.record_operation("edge", Duration::from_micros(micros), false);
    }
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    for (le, count) in [("0.001", 2), ("0.01", 4), ("+Inf", 5)] {
        let line = format!(
            "observe_operation_duration_seconds_bucket{{le=\"{le}\",operation=\"edge\"}} {count}\n"
        );
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
}

/// A boundary is the decimal it is written as, to the nanosecond: not the float times
/// 1e9, which lands a nanosecond off for many (16384.1 s, 1.0999999 µs).
#[test]
fn le_buckets_are_exact_for_boundaries_a_float_product_gets_wrong() {
    let collector = MetricsCollector::builder()
        .prometheus_buckets([1.0999999e-6, 16384.1])
        .process_metrics(false)
        .build()
        .expect("valid");
    let boundary = Duration::from_secs(16384) + Duration::from_millis(100);
    for took in [
        Duration::from_nanos(1_099),
        Duration::from_nanos(1_100),
        boundary - Duration::from_nanos(1),
        boundary,
        boundary + Duration::from_nanos(1),
    ] {
        collector.record_operation("edge", took, false);
    }
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    for (le, count) in [("0.0000010999999", 1), ("16384.1", 4), ("+Inf", 5)] {
        let line = format!(
            "observe_operation_duration_seconds_bucket{{le=\"{le}\",operation=\"edge\"}} {count}\n"
        );
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
}

#[test]
fn counters_never_go_backwards_across_a_reset() {
    let collector = populated();
    let before = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    collector.reset();
    collector.record_operation("create_expense", Duration::from_millis(1), true);
    let after = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");

    let values = |text: &str| -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("process_"))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    };
    let after = values(&after);
    for (series, old) in values(&before) {
        let new = after.iter().find(|(s, _)| *s == series).map(|(_, v)| *v);
        let new = new.unwrap_or_else(|| panic!("{series} disappeared"));
        assert!(new >= old, "{series}: {old} -> {new}");
    }
    // The JSON view did restart.
    assert_eq!(collector.get("create_expense").map(|op| op.count), Some(1));
}

#[test]
fn openmetrics_ends_with_eof_and_names_its_content_type() {
    let collector = populated();
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(text.contains("# UNIT svc_operation_duration_seconds seconds\n"));
    // The parser wrongly refuses a UNIT on histograms (OpenMetrics 1.0 forbids it only
    // on info and stateset families): check everything else with the units taken out.
    let without_units: String = text
        .lines()
        .filter(|l| !l.starts_with("# UNIT "))
        .map(|l| format!("{l}\n"))
        .collect();
    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&without_units)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert!(exposition.families.contains_key("svc_operations"));
    assert_eq!(
        ExpositionFormat::OpenMetrics.content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(
        ExpositionFormat::Prometheus.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
}

/// `encode_prometheus` writes the operation families by hand, unless the registry is
/// the user's own; then, as whenever the registry is encoded directly, they go through
/// `prometheus-client`. Both ways must give the same text, in both formats.
#[test]
fn hand_written_families_equal_prometheus_clients_encoding_byte_for_byte() {
    let buckets: [&[f64]; 2] = [
        observe_core::prometheus::DEFAULT_BUCKETS,
        &[1e-7, 0.3, 1.0, 7.5e3],
    ];
    for buckets in buckets {
        let build = |registry: Option<prometheus_client::registry::Registry>| {
            let builder = MetricsCollector::builder()
                .namespace("svc")
                .prometheus_buckets(buckets.iter().copied())
                .process_metrics(false);
            let collector = match registry {
                Some(registry) => builder.prometheus_registry(registry),
                None => builder,
            }
            .build()
            .expect("valid");
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
            collector
        };
        let by_hand = build(None);
        let through_client = build(Some(prometheus_client::registry::Registry::default()));

        let mut registry_text = String::new();
        by_hand
            .with_prometheus_registry(|registry| {
                prometheus_client::encoding::text::encode(&mut registry_text, registry)
            })
            .expect("encodes");
        assert!(
            registry_text.contains("svc_operations_total{operation=\"say \\\"hi\\\"\"} 3\n"),
            "{registry_text}"
        );
        for format in [ExpositionFormat::OpenMetrics, ExpositionFormat::Prometheus] {
            let hand = by_hand.encode_prometheus(format).expect("encodes");
            let client = through_client.encode_prometheus(format).expect("encodes");
            assert_same_text(&hand, &client);
            if format == ExpositionFormat::OpenMetrics {
                assert_same_text(&hand, &registry_text);
            }
        }
    }
}

/// Fails on the first line that differs, showing that line rather than both texts.
fn assert_same_text(got: &str, want: &str) {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
    assert_eq!(got, want);
}

/// A registry of the user's own keeps its prefix and constant labels on every family.
#[test]
fn a_registry_of_your_own_applies_its_prefix_and_labels_to_the_operations() {
    let registry = prometheus_client::registry::Registry::with_prefix_and_labels(
        "team",
        [("region".into(), "eu".into())].into_iter(),
    );
    let collector = MetricsCollector::builder()
        .prometheus_registry(registry)
        .process_metrics(false)
        .build()
        .expect("valid");
    collector.record_operation("checkout", Duration::from_millis(3), false);
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(
        text.contains("team_observe_operations_total{region=\"eu\",operation=\"checkout\"} 1\n"),
        "{text}"
    );
    promtool::check(&text);
}

#[test]
fn a_bad_namespace_or_bucket_list_is_a_clear_error() {
    let err = MetricsCollector::builder()
        .namespace("my-app")
        .build()
        .expect_err("invalid");
    assert!(err.to_string().contains("\"my-app\""), "{err}");
    let err = MetricsCollector::builder()
        .prometheus_buckets([0.5, 0.1])
        .build()
        .expect_err("invalid");
    assert!(err.to_string().contains("strictly increasing"), "{err}");
}

/// Exemplars are OpenMetrics only: Prometheus text has no syntax for them, and a scrape
/// that holds one fails to parse as a whole.
#[test]
fn user_metrics_with_exemplars_pass_promtool_in_prometheus_text() {
    use prometheus_client::metrics::exemplar::{CounterWithExemplar, HistogramWithExemplars};

    type Trace = Vec<(String, String)>;
    let trace = |id: &str| Some(vec![("trace_id".to_owned(), id.to_owned())]);
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("valid");
    collector.record_operation("say # {\"hi\"}", Duration::from_millis(3), false);
    let jobs = CounterWithExemplar::<Trace>::default();
    jobs.inc_by(2, trace("abc"), None);
    collector.register_metric("jobs", "Jobs run", jobs);
    let job_seconds = HistogramWithExemplars::<Trace>::new([0.1, 1.0].into_iter());
    job_seconds.observe(0.5, trace("def"), None);
    collector.register_metric("job_seconds", "Job durations", job_seconds);

    let openmetrics = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert!(
        openmetrics.contains("jobs_total 2 # {trace_id=\"abc\"} 2.0\n"),
        "{openmetrics}"
    );
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(!text.contains("trace_id"), "{text}");
    assert!(text.contains("jobs_total 2\n"), "{text}");
    assert!(
        text.contains("job_seconds_bucket{le=\"1.0\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("operation=\"say # {\\\"hi\\\"}\"} 1\n"),
        "{text}"
    );
    promtool::check(&text);
}

#[test]
fn ten_thousand_operations_encode_and_pass_promtool() {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("valid");
    for i in 0..10_000 {
        collector.record_operation(&format!("op_{i}"), Duration::from_micros(i), i % 7 == 0);
    }
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert_eq!(text.matches("observe_operations_total{").count(), 10_000);
    promtool::check(&text);
}

#[tokio::test]
async fn health_results_beside_operations_and_user_metrics_pass_promtool() {
    use observe_core::health::{
        CheckOptions, CheckResult, HealthRegistry, PoolStats, ReportOptions, fn_check,
    };

    let collector = populated();
    let mut builder = HealthRegistry::builder().collector(&collector);
    for (i, name) in HOSTILE.iter().enumerate() {
        let status = i % 3;
        builder = builder.check_with(
            fn_check(*name, move || async move {
                let result = match status {
                    0 => CheckResult::healthy(),
                    1 => CheckResult::degraded("slow"),
                    _ => CheckResult::unhealthy("down"),
                };
                result.with_pool(PoolStats::new(1, 2, 4))
            }),
            CheckOptions::new().critical(i % 2 == 0),
        );
    }
    let registry = builder.build().expect("unique names");
    let report = registry.report(&ReportOptions::new()).await;

    for format in [ExpositionFormat::Prometheus, ExpositionFormat::OpenMetrics] {
        let text = collector.encode_prometheus(format).expect("encodes");
        assert!(
            text.contains(&format!(
                "svc_health_status {}\n",
                report.status.gauge_value()
            )),
            "{text}"
        );
        if format == ExpositionFormat::Prometheus {
            assert_matches_snapshot(&text, &collector.snapshot());
            let parsed = parse_prometheus(&text).expect("parses");
            assert_eq!(
                parsed.families["svc_health_check_status"]
                    .iter_samples()
                    .count(),
                HOSTILE.len()
            );
            for (name, check) in &report.checks {
                let value = match sample(&parsed, "svc_health_check_status", name) {
                    PrometheusValue::Gauge(n) => number(n),
                    other => panic!("not a gauge: {other:?}"),
                };
                assert_eq!(
                    value,
                    check.result.status.gauge_value() as f64,
                    "check {name:?}"
                );
            }
            promtool::check(&text);
        }
    }
}
