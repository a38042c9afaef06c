//! The `traceparent` of a request: a sampled one becomes an exemplar of the request's
//! operation; an invalid one is ignored and the request served and counted as usual.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use observe_core::MetricsCollector;
use observe_core::prometheus::ExpositionFormat;
use observe_tower::HttpMetricsLayer;
use tower::ServiceExt;

const SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn app(collector: &MetricsCollector, read: bool) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .layer(
            HttpMetricsLayer::builder(collector)
                .read_traceparent(read)
                .build(),
        )
}

async fn get_with(app: Router, traceparent: Option<&str>) -> u16 {
    let mut request = Request::builder().uri("/users/7");
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    let request = request.body(Body::empty()).expect("a request");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    // The request is recorded when its body ends.
    let _ = response.into_body().collect().await.expect("a body");
    status
}

#[tokio::test]
async fn a_sampled_traceparent_is_an_exemplar_of_the_requests_operation() {
    let collector = MetricsCollector::new();
    assert_eq!(get_with(app(&collector, true), Some(SAMPLED)).await, 200);
    let op = collector
        .get("GET /users/{id}")
        .expect("the request's operation");
    assert_eq!(op.count, 1);
    let exemplar = op.exemplars.first().expect("an exemplar");
    assert_eq!(
        exemplar.trace.trace_id(),
        0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736
    );
    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .expect("encodes");
    assert!(
        text.lines()
            .any(|l| l.contains("operation=\"GET /users/{id}\"")
                && l.contains("# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"")),
        "{text}"
    );
    // And of the request's bucket of the HTTP duration histogram, only there.
    let http: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("observe_http_") && l.contains(" # {"))
        .collect();
    assert_eq!(http.len(), 1, "{text}");
    assert!(
        http[0].starts_with("observe_http_request_duration_seconds_bucket{le=\"")
            && http[0].contains("\",method=\"GET\",route=\"/users/{id}\",status=\"200\"} 1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} "),
        "{http:?}"
    );
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(!text.contains("trace_id"), "{text}");
}

#[tokio::test]
async fn unsampled_invalid_or_unread_headers_leave_no_exemplar() {
    let cases = [
        (
            true,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ),
        (
            true,
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
        ),
        (true, Some("garbage")),
        (true, Some("")),
        (false, Some(SAMPLED)),
    ];
    for (read, header) in cases {
        let collector = MetricsCollector::new();
        assert_eq!(
            get_with(app(&collector, read), header).await,
            200,
            "{header:?}"
        );
        let op = collector.get("GET /users/{id}").expect("counted as usual");
        assert_eq!((op.count, op.error_count), (1, 0), "{header:?}");
        assert!(op.exemplars.is_empty(), "{header:?}");
        let text = collector
            .encode_prometheus(ExpositionFormat::OpenMetrics)
            .expect("encodes");
        assert!(
            text.contains("observe_http_request_duration_seconds_count{method=\"GET\",route=\"/users/{id}\",status=\"200\"} 1\n"),
            "{header:?}: {text}"
        );
        assert!(!text.contains("trace_id"), "{header:?}: {text}");
    }
}
