//! Exemplars and hostile names through the real `prometheus` binary (Debian's 2.42):
//! what string comparisons cannot show is whether Prometheus takes the scrape. It takes
//! the whole target down for an exemplar where it does not expect one (text 0.0.4, a
//! gauge, a `_count` line), so every rule is checked by Prometheus scraping a test
//! server, beside a control target that breaks the rule and must go down.
//!
//! Without `prometheus` the tests are skipped with a printed reason, unless
//! `OBSERVE_REQUIRE_SERVICES=1` (as in CI), where they fail.

mod prometheus;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http::{Request, StatusCode};
use observe_core::prometheus::ExpositionFormat;
use observe_core::{MetricsCollector, Outcome, TraceContext};
use observe_tower::{HttpMetricsLayer, MonitoringService};
use prometheus::{Job, Prometheus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::exemplar::{CounterWithExemplar, HistogramWithExemplars};

/// Operation names a client or a careless caller could produce: quotes, backslashes,
/// newlines, braces, a fake exemplar, non-ASCII text, a name past the length cap.
fn hostile_names() -> Vec<String> {
    vec![
        "plain".to_owned(),
        "quote\"d".to_owned(),
        "back\\slash".to_owned(),
        "new\nline".to_owned(),
        "tab\there".to_owned(),
        "brace}{".to_owned(),
        "x\"} 1 # {trace_id=\"00\"} 1".to_owned(),
        "λ-ünïcødé ✓".to_owned(),
        " padded ".to_owned(),
        "é".repeat(100),
    ]
}

/// The name each hostile name is kept under: cut at the collector's 128-byte cap.
fn kept(name: &str) -> String {
    let mut end = name.len().min(128);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// The sampled trace of the `i`th operation, and an unsampled one.
fn traces(i: usize) -> (TraceContext, TraceContext) {
    let header = |trace: u128, flags: &str| {
        TraceContext::from_traceparent(&format!("00-{trace:032x}-{:016x}-{flags}", i + 1))
            .expect("a valid traceparent")
    };
    let i = i as u128;
    (header(0xaaaa_0000 + i, "01"), header(0xbbbb_0000 + i, "00"))
}

/// A user's own exemplar label set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UserExemplar {
    user_trace: String,
}

/// The collector under test: every hostile name recorded with a sampled and an
/// unsampled trace, and the user's own exemplar metrics on the same registry.
fn collector() -> MetricsCollector {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("a collector");
    for (i, name) in hostile_names().iter().enumerate() {
        let (sampled, unsampled) = traces(i);
        collector.record_traced(name, Duration::from_millis(20), Outcome::Ok, &sampled);
        collector.record_traced(name, Duration::from_millis(21), Outcome::Ok, &unsampled);
        collector.record_operation(name, Duration::from_millis(3), false);
    }
    let orders = CounterWithExemplar::<UserExemplar>::default();
    orders.inc_by(
        3,
        Some(UserExemplar {
            user_trace: "user-counter".to_owned(),
        }),
        None,
    );
    collector.register_metric("user_orders", "The user's own counter", orders);
    let latency = HistogramWithExemplars::<UserExemplar>::new([0.1, 1.0].into_iter());
    latency.observe(
        0.5,
        Some(UserExemplar {
            user_trace: "user-histogram".to_owned(),
        }),
        None,
    );
    collector.register_metric("user_latency_seconds", "The user's own histogram", latency);
    collector
}

/// The `traceparent` of the `i`th HTTP request (statuses 200, 404, 500, 200, …):
/// sampled when `i` is even.
fn http_traceparent(i: usize) -> String {
    let flags = if i.is_multiple_of(2) { "01" } else { "00" };
    format!("00-{:032x}-{:016x}-{flags}", 0xcccc_0000 + i, i + 1)
}

const HTTP_STATUSES: [u16; 3] = [200, 404, 500];

/// Serves six requests through the HTTP layer on `collector`, each with its
/// `traceparent` (half sampled), and one with an invalid header.
fn serve_http_requests(runtime: &tokio::runtime::Runtime, collector: &MetricsCollector) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let app = Router::new()
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
            }),
        )
        .layer(HttpMetricsLayer::builder(collector).build());
    let headers = (0..6)
        .map(|i| (HTTP_STATUSES[i % 3], http_traceparent(i)))
        .chain([(200, "00-not-a-trace-01".to_owned())]);
    runtime.block_on(async {
        for (status, traceparent) in headers {
            let request = Request::builder()
                .uri(format!("/status/{status}"))
                .header("traceparent", traceparent)
                .body(Body::empty())
                .expect("a request");
            let response = app.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status().as_u16(), status);
            // Recorded when the body ends.
            let _ = response.into_body().collect().await.expect("a body");
        }
    });
}

/// Serves the collector: `/m/prometheus` negotiates the format as `MonitoringService`
/// does; `/text` is always Prometheus text 0.0.4; `/control` serves the OpenMetrics
/// output (exemplars included) labelled as text 0.0.4, which Prometheus must refuse.
fn serve(runtime: &tokio::runtime::Runtime, collector: &MetricsCollector) -> SocketAddr {
    let text = collector.clone();
    let control = collector.clone();
    let app = Router::new()
        .nest_service("/m", MonitoringService::builder(collector).build())
        .route(
            "/text",
            get(move || async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    text.encode_prometheus(ExpositionFormat::Prometheus)
                        .expect("encodes"),
                )
            }),
        )
        .route(
            "/control",
            get(move || async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    control
                        .encode_prometheus(ExpositionFormat::OpenMetrics)
                        .expect("encodes"),
                )
            }),
        );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    runtime.spawn(async move { axum::serve(listener, app).await });
    addr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The trace ids of `exemplars`, for series of `job` with the operation label.
fn trace_ids(exemplars: &[(serde_json::Value, serde_json::Value)], job: &str) -> BTreeSet<String> {
    exemplars
        .iter()
        .filter(|(series, _)| series["job"] == job)
        .filter_map(|(_, labels)| labels["trace_id"].as_str().map(str::to_owned))
        .collect()
}

/// The names Prometheus must show: every hostile name, as the collector keeps it.
fn expected_names() -> BTreeSet<String> {
    hostile_names().iter().map(|n| kept(n)).collect()
}

/// The trace ids of the sampled records, one per name.
fn sampled_trace_ids() -> BTreeSet<String> {
    (0..hostile_names().len())
        .map(|i| format!("{:032x}", traces(i).0.trace_id()))
        .collect()
}

/// Checks that `job` (every job with `None`) is among the targets and was scraped
/// without an error.
fn assert_up(targets: &[(String, String, String)], job: Option<&str>) {
    let mut seen = 0;
    for (name, health, error) in targets {
        if job.is_none_or(|job| job == name) {
            seen += 1;
            assert!(
                health == "up" && error.is_empty(),
                "{name} must be scraped cleanly: {health} {error}"
            );
        }
    }
    assert!(seen > 0, "no target of {job:?} in {targets:?}");
}

/// The `operation` label values of `selector`'s series.
fn operation_names(prometheus: &Prometheus, selector: &str) -> BTreeSet<String> {
    prometheus
        .label_values("operation", selector)
        .into_iter()
        .collect()
}

#[test]
fn openmetrics_exemplars_and_hostile_names_pass_a_real_prometheus_and_text_stays_clean() {
    let test = "openmetrics_exemplars_and_hostile_names";
    let runtime = runtime();
    let collector = collector();
    serve_http_requests(&runtime, &collector);
    let addr = serve(&runtime, &collector);
    let jobs = [
        Job {
            name: "negotiated",
            path: "/m/prometheus",
        },
        Job {
            name: "text",
            path: "/text",
        },
        Job {
            name: "control",
            path: "/control",
        },
    ];
    let Some(prometheus) = Prometheus::start(test, "exemplar-storage", addr, &jobs) else {
        return;
    };
    let targets = prometheus.targets_after(3);
    assert_up(&targets, Some("negotiated"));
    assert_up(&targets, Some("text"));
    let control = targets.iter().find(|(job, ..)| job == "control");
    assert!(
        control.is_some_and(|(_, health, error)| health == "down" && !error.is_empty()),
        "the control target (exemplars in text 0.0.4) must fail: {control:?}"
    );

    // Every hostile name comes through exactly, in both formats, beside the HTTP
    // requests' operation.
    let mut expected = expected_names();
    expected.insert("GET /status/{code}".to_owned());
    for job in ["negotiated", "text"] {
        let selector = format!("observe_operations_total{{job=\"{job}\"}}");
        let names = operation_names(&prometheus, &selector);
        assert_eq!(names, expected, "operation names scraped by {job}");
    }

    // The sampled traces are exemplars of their buckets, the unsampled never; text
    // 0.0.4 carries none.
    let exemplars = prometheus.exemplars("observe_operation_duration_seconds_bucket");
    let not_http = exemplars
        .iter()
        .filter(|(series, _)| series["operation"] != "GET /status/{code}")
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(trace_ids(&not_http, "negotiated"), sampled_trace_ids());
    assert!(trace_ids(&exemplars, "text").is_empty(), "{exemplars:?}");
    for (series, labels) in &exemplars {
        let name = series["__name__"].as_str().unwrap_or_default();
        assert!(name.ends_with("_bucket"), "an exemplar on {series}");
        let keys: Vec<_> = labels
            .as_object()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["span_id", "trace_id"], "{labels}");
    }
    // Each exemplar sits on its own operation's series.
    for (i, name) in hostile_names().iter().enumerate() {
        let trace = format!("{:032x}", traces(i).0.trace_id());
        assert!(
            exemplars
                .iter()
                .any(|(series, labels)| series["operation"] == kept(name)
                    && labels["trace_id"] == trace.as_str()),
            "the exemplar of {name:?}"
        );
    }
    // No exemplar on the counters or the `_count` lines, which Prometheus would have
    // refused: the target being up says so, and the API agrees.
    for family in [
        "observe_operations_total",
        "observe_operation_duration_seconds_count",
    ] {
        assert!(
            trace_ids(&prometheus.exemplars(family), "negotiated").is_empty(),
            "{family}"
        );
    }

    // The HTTP layer's duration histogram: each sampled request's trace on its own
    // status's series, never an unsampled or invalid one, nothing in text 0.0.4.
    let exemplars = prometheus.exemplars("observe_http_request_duration_seconds_bucket");
    let mut expected = BTreeSet::new();
    for i in (0..6).step_by(2) {
        let trace = format!("{:032x}", 0xcccc_0000 + i);
        let status = HTTP_STATUSES[i % 3].to_string();
        assert!(
            exemplars
                .iter()
                .any(|(series, labels)| series["job"] == "negotiated"
                    && series["route"] == "/status/{code}"
                    && series["status"] == status.as_str()
                    && labels["trace_id"] == trace.as_str()),
            "the exemplar of request {i} ({status}): {exemplars:?}"
        );
        expected.insert(trace);
    }
    assert_eq!(
        trace_ids(&exemplars, "negotiated"),
        expected,
        "{exemplars:?}"
    );
    assert!(trace_ids(&exemplars, "text").is_empty(), "{exemplars:?}");
    for family in [
        "observe_http_request_duration_seconds_count",
        "observe_http_requests_total",
    ] {
        assert!(
            trace_ids(&prometheus.exemplars(family), "negotiated").is_empty(),
            "{family}"
        );
    }

    // The user's own exemplar metrics on the same registry still carry theirs.
    for (family, value) in [
        ("user_orders_total", "user-counter"),
        ("user_latency_seconds_bucket", "user-histogram"),
    ] {
        let found = prometheus.exemplars(family);
        assert!(
            found
                .iter()
                .any(|(series, labels)| series["job"] == "negotiated"
                    && labels["user_trace"] == value),
            "{family}: {found:?}"
        );
    }
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_exemplars_pass_a_real_prometheus_with_native_histograms() {
    let test = "protobuf_exemplars";
    let runtime = runtime();
    let collector = collector();
    let addr = serve(&runtime, &collector);
    let jobs = [Job {
        name: "negotiated",
        path: "/m/prometheus",
    }];
    // With native histograms on, Prometheus 2.42 asks for protobuf first.
    let Some(prometheus) =
        Prometheus::start(test, "exemplar-storage,native-histograms", addr, &jobs)
    else {
        return;
    };
    assert_up(&prometheus.targets_after(3), None);
    let names = operation_names(&prometheus, "observe_operations_total");
    assert_eq!(names, expected_names(), "operation names over protobuf");
    let exemplars = prometheus.exemplars("observe_operation_duration_seconds_bucket");
    assert_eq!(trace_ids(&exemplars, "negotiated"), sampled_trace_ids());
}
