//! HttpMetricsLayer, driven through `tower::ServiceExt::oneshot` and axum routers.

mod streaming;
mod traceparent;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use observe_core::MetricsCollector;
use observe_core::prometheus::ExpositionFormat;
use observe_tower::HttpMetricsLayer;
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// The value of one series in the Prometheus text of `collector`, if present.
pub(crate) fn series(collector: &MetricsCollector, series: &str) -> Option<f64> {
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub(crate) fn app(collector: &MetricsCollector) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route("/echo", post(|body: String| async move { body }))
        .route("/metrics", get(|| async { "scrape" }))
        .layer(
            HttpMetricsLayer::builder(collector)
                .exclude_path("/metrics")
                .build(),
        )
}

async fn send(app: Router, method: Method, uri: &str) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, body)
}

#[tokio::test]
async fn routes_are_labelled_by_their_template() {
    let collector = MetricsCollector::new();
    for id in ["1", "2", "ada"] {
        send(app(&collector), Method::GET, &format!("/users/{id}")).await;
    }
    let op = collector
        .get("GET /users/{id}")
        .expect("operation recorded");
    assert_eq!((op.count, op.error_count), (3, 0));
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_total{method="GET",route="/users/{id}",status="200"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        series(
            &collector,
            r#"observe_http_response_size_bytes_sum{method="GET",route="/users/{id}"}"#
        ),
        Some(12.0),
        "three bodies of 4 bytes"
    );
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_in_flight{method="GET",route="/users/{id}"}"#
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_hundred_thousand_distinct_paths_leave_a_bounded_series_count() {
    let collector = MetricsCollector::new();
    let app = app(&collector);
    for i in 0..100_000u32 {
        let uri = if i % 2 == 0 {
            format!("/users/{i}")
        } else {
            format!("/random/{i}/x{}", i * 7)
        };
        send(app.clone(), Method::GET, &uri).await;
    }
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    let requests: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("observe_http_requests_total{"))
        .collect();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(50_000.0)
    );
    assert!(
        collector.len() <= 3,
        "operations: {:?}",
        collector
            .snapshot()
            .iter()
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn server_errors_count_as_errors_and_client_errors_do_not() {
    let collector = MetricsCollector::new();
    send(app(&collector), Method::GET, "/fail").await;
    send(app(&collector), Method::GET, "/teapot").await;
    assert_eq!(collector.get("GET /fail").map(|op| op.error_count), Some(1));
    assert_eq!(
        collector.get("GET /teapot").map(|op| op.error_count),
        Some(0)
    );
}

#[tokio::test]
async fn the_classifier_decides_what_is_an_error() {
    let collector = MetricsCollector::new();
    let app = Router::new()
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .layer(
            HttpMetricsLayer::builder(&collector)
                .classify_errors(|s| s.is_client_error())
                .build(),
        );
    send(app, Method::GET, "/teapot").await;
    assert_eq!(
        collector.get("GET /teapot").map(|op| op.error_count),
        Some(1)
    );
}

#[tokio::test]
async fn excluded_paths_are_not_measured() {
    let collector = MetricsCollector::new();
    send(app(&collector), Method::GET, "/metrics").await;
    assert!(collector.is_empty());
}

#[tokio::test]
async fn unknown_methods_fold_into_other() {
    let collector = MetricsCollector::new();
    let purge = Method::from_bytes(b"PURGE").expect("token");
    send(app(&collector), purge, "/users/1").await;
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_total{method="_OTHER",route="unmatched",status="405"}"#
        )
        .or_else(|| series(
            &collector,
            r#"observe_http_requests_total{method="_OTHER",route="/users/{id}",status="405"}"#
        )),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_route_resolver_labels_services_without_matched_path() {
    let collector = MetricsCollector::new();
    let svc = ServiceBuilder::new()
        .layer(
            HttpMetricsLayer::builder(&collector)
                .route_resolver(|_: &Method, uri: &http::Uri, _: &http::Extensions| {
                    uri.path()
                        .starts_with("/items/")
                        .then(|| "/items/:id".to_owned())
                })
                .build(),
        )
        .service(service_fn(|_req: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::from("ok")))
        }));
    for uri in ["/items/1", "/items/2", "/other"] {
        let req = Request::get(uri).body(Body::empty()).expect("request");
        let res = svc.clone().oneshot(req).await.expect("infallible");
        res.into_body().collect().await.expect("body");
    }
    assert_eq!(collector.get("GET /items/:id").map(|op| op.count), Some(2));
    assert_eq!(collector.get("GET unmatched").map(|op| op.count), Some(1));
}

#[tokio::test]
async fn an_inner_service_error_is_a_500_and_an_error() {
    let collector = MetricsCollector::new();
    let svc = ServiceBuilder::new()
        .layer(HttpMetricsLayer::new(&collector))
        .service(service_fn(|_req: Request<Body>| async {
            Err::<Response<Body>, _>(std::io::Error::other("backend down"))
        }));
    let result = svc
        .oneshot(Request::get("/x").body(Body::empty()).expect("request"))
        .await;
    assert!(result.is_err(), "errors pass through untouched");
    assert_eq!(
        collector.get("GET unmatched").map(|op| op.error_count),
        Some(1)
    );
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_total{method="GET",route="unmatched",status="500"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn the_in_flight_gauge_follows_each_stage_of_a_request() {
    let collector = MetricsCollector::new();
    let app = app(&collector);
    let gauge = r#"observe_http_requests_in_flight{method="POST",route="/echo"}"#;
    let request = Request::post("/echo")
        .body(Body::from("hello"))
        .expect("request");
    let future = app.oneshot(request);
    assert_eq!(series(&collector, gauge), None, "nothing before the call");
    let response = future.await.expect("infallible");
    assert_eq!(
        series(&collector, gauge),
        Some(1.0),
        "in flight until the body ends"
    );
    assert_eq!(collector.get("POST /echo").map(|op| op.count), Some(0));
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"hello");
    assert_eq!(series(&collector, gauge), Some(0.0));
    assert_eq!(
        collector
            .get("POST /echo")
            .map(|op| (op.count, op.cancelled_count)),
        Some((1, 0))
    );
}

#[tokio::test]
async fn a_response_body_dropped_early_is_cancelled_with_its_status() {
    let collector = MetricsCollector::new();
    let request = Request::post("/echo")
        .body(Body::from("unread"))
        .expect("request");
    let response = app(&collector).oneshot(request).await.expect("infallible");
    drop(response);
    let op = collector.get("POST /echo").expect("recorded");
    assert_eq!((op.count, op.cancelled_count), (1, 1));
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_total{method="POST",route="/echo",status="200"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_future_dropped_before_the_response_is_a_499() {
    let collector = MetricsCollector::new();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .layer(HttpMetricsLayer::new(&collector));
    let request = Request::get("/slow").body(Body::empty()).expect("request");
    let outcome = tokio::time::timeout(Duration::from_millis(10), app.oneshot(request)).await;
    assert!(outcome.is_err(), "timed out");
    let op = collector.get("GET /slow").expect("recorded");
    assert_eq!((op.count, op.cancelled_count), (1, 1));
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_total{method="GET",route="/slow",status="499"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        series(
            &collector,
            r#"observe_http_requests_in_flight{method="GET",route="/slow"}"#
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn two_layers_on_one_collector_share_the_families() {
    let collector = MetricsCollector::new();
    let _first = HttpMetricsLayer::new(&collector);
    let _second = HttpMetricsLayer::new(&collector);
    send(app(&collector), Method::GET, "/users/1").await;
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert_eq!(
        text.matches("# TYPE observe_http_requests_total counter")
            .count(),
        1
    );
}

#[tokio::test]
async fn invalid_bucket_lists_are_refused_and_register_nothing() {
    let collector = MetricsCollector::new();
    let builder = HttpMetricsLayer::builder(&collector);
    let refused = builder.size_buckets([1_000.0, 100.0]).map(|_| ());
    let message = refused.expect_err("a decreasing list").to_string();
    assert!(message.contains("strictly increasing"), "{message}");
    for bad in [vec![-1.0], vec![0.1, f64::INFINITY], vec![1.0; 65]] {
        assert!(
            HttpMetricsLayer::builder(&collector)
                .duration_buckets(bad.clone())
                .is_err(),
            "{bad:?}"
        );
    }
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(
        !text.contains("http_request"),
        "a refused builder registered families"
    );

    let layer = HttpMetricsLayer::builder(&collector)
        .size_buckets([10.0, 1_000.0])
        .expect("valid")
        .build();
    let response = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_req: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::from("0123456789ab")))
        }))
        .oneshot(Request::get("/x").body(Body::empty()).expect("request"))
        .await
        .expect("response");
    response.into_body().collect().await.expect("body");
    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .expect("encodes");
    assert!(text.contains("le=\"1000.0\""), "{text}");
}
