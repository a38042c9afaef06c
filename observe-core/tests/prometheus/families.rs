//! Histogram families of the user's: written by hand as `prometheus-client` writes the
//! same histogram, exemplars only in OpenMetrics and only on buckets, through
//! `prometheus-client` wherever the collector does not write by hand, and bad
//! configurations refused with nothing registered.

use observe_core::prometheus::{ExpositionFormat, HistogramFamily, NativeHistograms};
use observe_core::{BuildError, MetricsCollector, TraceContext};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::HOSTILE;

const BOUNDS: [f64; 4] = [0.005, 0.1, 1.0, 10.0];
const VALUES: [f64; 9] = [0.001, 0.005, 0.0051, 0.1, 0.5, 1.0, 2.5, 10.0, 99.0];

fn bare() -> MetricsCollector {
    MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("a collector")
}

fn trace(n: u64, sampled: bool) -> TraceContext {
    TraceContext::new(u128::from(n) << 64 | 0xabc, n, sampled).expect("non-zero ids")
}

/// The lines of `text` that belong to the family `name`.
fn family_lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            let sample = l.strip_prefix(name).is_some_and(|r| {
                ["_sum", "_count", "_bucket"]
                    .iter()
                    .any(|s| r.starts_with(s))
            });
            let comment = ["# HELP ", "# TYPE ", "# UNIT "].iter().any(|c| {
                l.strip_prefix(c)
                    .is_some_and(|r| r.starts_with(&format!("{name} ")))
            });
            sample || comment
        })
        .collect()
}

/// What `prometheus-client` writes for the same observations of the same series.
fn reference(format: ExpositionFormat, labelled: &[Vec<(String, String)>]) -> String {
    let family: Family<Vec<(String, String)>, Histogram> =
        Family::new_with_constructor(|| Histogram::new(BOUNDS));
    for labels in labelled {
        for v in VALUES {
            family.get_or_create(labels).observe(v);
        }
    }
    let mut registry = Registry::default();
    registry.register_with_unit("app_wait", "Time waited", Unit::Seconds, family);
    let reference = bare();
    reference.with_prometheus_registry(|r| *r = registry);
    // A collector whose registry holds only the reference family: its own families
    // are hand-written, the rest is `prometheus-client`'s text.
    reference.encode_prometheus(format).expect("encodes")
}

#[test]
fn hand_written_text_is_what_prometheus_client_writes() {
    let collector = bare();
    let family = HistogramFamily::builder("app_wait", "Time waited")
        .unit(Unit::Seconds)
        .labels(["route", "status"])
        .buckets(&BOUNDS)
        .register(&collector)
        .expect("a valid family");
    let mut labelled = Vec::new();
    for (i, route) in HOSTILE.iter().enumerate() {
        let status = (200 + i).to_string();
        for v in VALUES {
            family.series([route, &status]).observe(v);
        }
        labelled.push(vec![
            ("route".to_owned(), (*route).to_owned()),
            ("status".to_owned(), status),
        ]);
    }
    for format in [ExpositionFormat::OpenMetrics, ExpositionFormat::Prometheus] {
        let ours = collector.encode_prometheus(format).expect("encodes");
        let theirs = reference(format, &labelled);
        let (mut ours, mut theirs) = (
            family_lines(&ours, "app_wait_seconds"),
            family_lines(&theirs, "app_wait_seconds"),
        );
        assert_eq!(
            ours.len(),
            3 + HOSTILE.len() * 7 - usize::from(format == ExpositionFormat::Prometheus)
        );
        // `prometheus-client` writes its series in hash order, the family in creation order.
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{format:?}");
        super::promtool::check(&collector.encode_prometheus(format).expect("encodes"));
    }
}

#[test]
fn a_family_without_labels_writes_no_braces_but_les() {
    let collector = bare();
    let family = HistogramFamily::builder("app_size", "Sizes")
        .buckets(&[1.0])
        .register(&collector)
        .expect("a valid family");
    family.series([]).observe(0.5);
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    for line in [
        "app_size_sum 0.5",
        "app_size_count 1",
        "app_size_bucket{le=\"1.0\"} 1",
        "app_size_bucket{le=\"+Inf\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[test]
fn exemplars_only_in_openmetrics_only_on_buckets_only_when_sampled() {
    let collector = bare();
    let family = HistogramFamily::builder("app_wait", "Time waited")
        .unit(Unit::Seconds)
        .labels(["route"])
        .buckets(&BOUNDS)
        .register(&collector)
        .expect("a valid family");
    let series = family.series(["/a"]);
    series.observe_traced(0.05, &trace(1, false)); // unsampled: counted, not kept
    series.observe_traced(0.05, &trace(2, true));
    series.observe_traced(0.07, &trace(3, true)); // replaces 2 in the same bucket
    series.observe_traced(50.0, &trace(4, true)); // +Inf
    series.observe_traced(f64::NAN, &trace(5, true)); // ignored altogether
    series.observe(f64::INFINITY);

    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    let lines = family_lines(&text, "app_wait_seconds");
    let with_exemplar: Vec<_> = lines.iter().filter(|l| l.contains(" # {")).collect();
    assert_eq!(with_exemplar.len(), 2, "{lines:#?}");
    let id = |n: u64| {
        format!(
            "trace_id=\"{:032x}\",span_id=\"{n:016x}\"",
            u128::from(n) << 64 | 0xabc
        )
    };
    assert!(
        with_exemplar[0].starts_with(&format!(
            "app_wait_seconds_bucket{{le=\"0.1\",route=\"/a\"}} 3 # {{{}}} 0.07 ",
            id(3)
        )),
        "{with_exemplar:?}"
    );
    assert!(
        with_exemplar[1].starts_with(&format!(
            "app_wait_seconds_bucket{{le=\"+Inf\",route=\"/a\"}} 4 # {{{}}} 50.0 ",
            id(4)
        )),
        "{with_exemplar:?}"
    );
    assert!(
        lines.contains(&"app_wait_seconds_count{route=\"/a\"} 4"),
        "{lines:#?}"
    );
    assert!(!text.contains(&id(1)) && !text.contains(&id(2)) && !text.contains(&id(5)));

    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(!text.contains(" # {"), "no exemplar in text 0.0.4:\n{text}");
    super::promtool::check(&text);
}

#[test]
fn a_registry_of_the_users_gets_the_family_through_prometheus_client() {
    let collector = MetricsCollector::builder()
        .prometheus_registry(Registry::with_prefix("mine"))
        .process_metrics(false)
        .build()
        .expect("a collector");
    let family = HistogramFamily::builder("app_wait", "Time waited")
        .unit(Unit::Seconds)
        .labels(["route"])
        .buckets(&BOUNDS)
        .register(&collector)
        .expect("a valid family");
    family.series(["/a"]).observe_traced(0.05, &trace(2, true));
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert!(
        text.contains("mine_app_wait_seconds_bucket{le=\"0.1\",route=\"/a\"} 1\n"),
        "{text}"
    );
    assert_eq!(text.matches("app_wait_seconds_count").count(), 1, "{text}");
}

#[test]
fn bad_configurations_are_refused_and_register_nothing() {
    let collector = bare();
    let before = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    let cases = [
        HistogramFamily::builder("", "h").labels(["a"]),
        HistogramFamily::builder("9lives", "h").labels(["a"]),
        HistogramFamily::builder("ok name", "h").labels(["a"]),
        HistogramFamily::builder("ok", "h").labels(["le"]),
        HistogramFamily::builder("ok", "h").labels(["__reserved"]),
        HistogramFamily::builder("ok", "h").labels(["a-b"]),
        HistogramFamily::builder("ok", "h")
            .labels(["a"])
            .buckets(&[1.0, 1.0]),
        HistogramFamily::builder("ok", "h")
            .labels(["a"])
            .buckets(&[f64::NAN]),
        HistogramFamily::builder("ok", "h")
            .labels(["a"])
            .buckets(&[-1.0]),
    ];
    for case in cases {
        let error = case.clone().register(&collector).expect_err("refused");
        assert!(
            matches!(
                error,
                BuildError::Family { .. } | BuildError::Buckets { .. }
            ),
            "{case:?}: {error}"
        );
    }
    let twice = HistogramFamily::builder("ok", "h").labels(["a", "a"]);
    assert!(matches!(
        twice.register(&collector),
        Err(BuildError::Family { .. })
    ));
    assert_eq!(
        collector
            .encode_prometheus(ExpositionFormat::OpenMetrics)
            .expect("encodes"),
        before
    );

    HistogramFamily::builder("ok", "h")
        .register(&collector)
        .expect("valid");
    let again = HistogramFamily::builder("ok", "other help").labels(["b"]);
    let error = again.register(&collector).expect_err("the name is taken");
    assert!(error.to_string().contains("ok"), "{error}");
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert_eq!(text.matches("# TYPE ok histogram").count(), 1, "{text}");
}

#[test]
fn concurrent_recorders_and_series_creation_lose_no_count() {
    let collector = bare();
    let family = HistogramFamily::builder("app_wait", "Time waited")
        .labels(["route"])
        .buckets(&BOUNDS)
        .register(&collector)
        .expect("a valid family");
    let routes: Vec<String> = (0..16).map(|i| format!("/r{i}")).collect();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (family, routes) = (&family, &routes);
            s.spawn(move || {
                for i in 0..10_000u64 {
                    let route = &routes[(i % 16) as usize];
                    family
                        .series([route])
                        .observe_traced(0.01, &trace(1 + t * 10_000 + i, true));
                }
            });
        }
    });
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    for route in &routes {
        let line = format!("app_wait_count{{route=\"{route}\"}} 2500\n");
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    assert_eq!(text.matches("app_wait_count{").count(), 16);
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_carries_the_family_with_native_buckets_when_asked() {
    use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::MetricFamily;
    use prost::Message;

    for native in [
        None,
        Some(NativeHistograms::new(3).expect("a valid schema")),
    ] {
        let collector = bare();
        let family = HistogramFamily::builder("app_wait", "Time waited")
            .unit(Unit::Seconds)
            .labels(["route"])
            .buckets(&BOUNDS)
            .native(native)
            .register(&collector)
            .expect("a valid family");
        for v in VALUES {
            family.series(["/a"]).observe_traced(v, &trace(7, true));
        }
        let body = collector.encode_protobuf().expect("encodes");
        let mut rest = &body[..];
        let mut found = Vec::new();
        while !rest.is_empty() {
            let f = MetricFamily::decode_length_delimited(&mut rest).expect("a family");
            if f.name == "app_wait_seconds" {
                found.push(f);
            }
        }
        assert_eq!(found.len(), 1, "the family once");
        let histogram = found[0].metric[0].histogram.as_ref().expect("a histogram");
        assert_eq!(histogram.sample_count, VALUES.len() as u64);
        let cumulative: Vec<u64> = histogram
            .bucket
            .iter()
            .map(|b| b.cumulative_count)
            .collect();
        assert_eq!(cumulative[..4], [2, 4, 6, 8], "{native:?}");
        assert_eq!(
            histogram.schema != 0 || !histogram.positive_delta.is_empty(),
            native.is_some()
        );
    }
}
