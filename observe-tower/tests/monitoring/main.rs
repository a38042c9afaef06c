//! MonitoringService: every endpoint and error path through `oneshot`, then over a real
//! hyper server and nested in axum.

mod dashboard;
mod health;
mod hostile;
mod over_hyper;

use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use observe_core::MetricsCollector;
use observe_tower::MonitoringService;
use observe_tower::monitoring::MonitoringBody;
use serde_json::Value;
use tower::ServiceExt;

pub(crate) const TOKEN: &str = "s3cret-token";

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub(crate) fn header(&self, name: http::header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

pub(crate) async fn reply(response: Response<MonitoringBody>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("infallible").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub(crate) async fn call(service: &MonitoringService, request: Request<Empty<Bytes>>) -> Reply {
    let response = service.clone().oneshot(request).await.expect("infallible");
    reply(response).await
}

pub(crate) fn request(method: Method, uri: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Empty::new())
        .expect("request")
}

pub(crate) async fn get(service: &MonitoringService, uri: &str) -> Reply {
    call(service, request(Method::GET, uri)).await
}

fn populated() -> (MetricsCollector, MonitoringService) {
    let collector = MetricsCollector::new();
    collector.record_operation("db_query", Duration::from_millis(4), false);
    collector.record_operation("db_query", Duration::from_millis(8), true);
    collector.record_operation("cache_get", Duration::from_micros(90), false);
    let service = MonitoringService::builder(&collector)
        .reset_token(TOKEN)
        .build();
    (collector, service)
}

#[tokio::test]
async fn metrics_lists_every_operation_keyed_by_name() {
    let (_, service) = populated();
    let reply = get(&service, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(CONTENT_TYPE), "application/json");
    let json = reply.json();
    assert_eq!(json["db_query"]["count"], 2);
    assert_eq!(json["db_query"]["error_count"], 1);
    assert_eq!(json["cache_get"]["name"], "cache_get");
    assert_eq!(json.as_object().map(|o| o.len()), Some(2));
}

#[tokio::test]
async fn system_shows_the_summary_and_the_process() {
    let (_, service) = populated();
    let json = get(&service, "/system").await.json();
    assert_eq!(json["summary"]["total_operations"], 3);
    assert_eq!(json["summary"]["monitored_operations"], 2);
    assert!(
        json["process"]["resident_memory_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0)
    );
    assert!(json["process"]["threads"].as_u64().is_some());
}

#[tokio::test]
async fn operation_answers_one_operation_or_says_what_is_wrong() {
    let (_, service) = populated();
    let ok = get(&service, "/operation?name=db_query").await;
    assert_eq!(
        (ok.status, ok.json()["count"].clone()),
        (StatusCode::OK, Value::from(2))
    );
    let alias = get(&service, "/operation?operation=cache_get").await;
    assert_eq!(alias.status, StatusCode::OK);
    let encoded = get(&service, "/operation?name=db%5Fquery").await;
    assert_eq!(encoded.status, StatusCode::OK);
    for (uri, status) in [
        ("/operation", StatusCode::BAD_REQUEST),
        ("/operation?name=", StatusCode::BAD_REQUEST),
        ("/operation?other=x", StatusCode::BAD_REQUEST),
        ("/operation?name=nope", StatusCode::NOT_FOUND),
        ("/operation?name=%22%3Cscript%3E", StatusCode::NOT_FOUND),
    ] {
        let reply = get(&service, uri).await;
        assert_eq!(reply.status, status, "{uri}");
        let json = reply.json();
        assert_eq!(json["status"], status.as_u16(), "{uri}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn reset_needs_the_token_and_keeps_prometheus_counters() {
    let (collector, service) = populated();
    let before = get(&service, "/prometheus").await;
    let line = r#"observe_operations_total{operation="db_query"} 2"#;
    assert!(String::from_utf8_lossy(&before.body).contains(line));

    let missing = call(&service, request(Method::POST, "/reset")).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.header(http::header::WWW_AUTHENTICATE), "Bearer");
    let mut wrong = request(Method::POST, "/reset");
    wrong.headers_mut().insert(
        http::header::AUTHORIZATION,
        "Bearer nope".parse().expect("header"),
    );
    assert_eq!(call(&service, wrong).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        collector.get("db_query").map(|op| op.count),
        Some(2),
        "nothing reset"
    );

    let mut right = request(Method::POST, "/reset");
    right.headers_mut().insert(
        http::header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse().expect("header"),
    );
    let reset = call(&service, right).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(reset.json()["status"], "reset");
    assert_eq!(collector.get("db_query").map(|op| op.count), Some(0));
    let after = get(&service, "/prometheus").await;
    assert!(
        String::from_utf8_lossy(&after.body).contains(line),
        "counters stay monotonic"
    );
}

#[tokio::test]
async fn reset_is_forbidden_when_no_token_is_configured() {
    let collector = MetricsCollector::new();
    let service = MonitoringService::builder(&collector)
        .reset_token("")
        .build();
    let mut req = request(Method::POST, "/reset");
    req.headers_mut().insert(
        http::header::AUTHORIZATION,
        "Bearer ".parse().expect("header"),
    );
    let reply = call(&service, req).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["status"], 403);
}

#[tokio::test]
async fn prometheus_negotiates_the_format_on_accept() {
    let (_, service) = populated();
    let text = get(&service, "/prometheus").await;
    assert_eq!(
        text.header(CONTENT_TYPE),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(!String::from_utf8_lossy(&text.body).contains("# EOF"));
    let mut req = request(Method::GET, "/prometheus");
    req.headers_mut().insert(
        http::header::ACCEPT,
        "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            .parse()
            .expect("header"),
    );
    let om = call(&service, req).await;
    assert_eq!(
        om.header(CONTENT_TYPE),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(String::from_utf8_lossy(&om.body).ends_with("# EOF\n"));
}

/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`: protobuf, with
/// the native buckets of both the operations and the HTTP layer.
#[cfg(feature = "protobuf")]
#[tokio::test]
async fn prometheus_serves_protobuf_with_native_histograms_when_asked() {
    use axum::{Router, body::Body, routing::get as route};
    use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::MetricFamily;
    use prost::Message;

    let collector = MetricsCollector::builder()
        .native_histograms(3)
        .build()
        .expect("valid");
    let app = Router::new()
        .route("/users/{id}", route(|| async { "ada" }))
        .layer(observe_tower::HttpMetricsLayer::new(&collector));
    for _ in 0..3 {
        let req = Request::get("/users/7")
            .body(Body::empty())
            .expect("request");
        let response = app.clone().oneshot(req).await.expect("infallible");
        let _ = response.into_body().collect().await;
    }
    let service = MonitoringService::builder(&collector).build();
    let mut req = request(Method::GET, "/prometheus");
    req.headers_mut().insert(
        http::header::ACCEPT,
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
         encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
            .parse()
            .expect("header"),
    );
    let reply = call(&service, req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(CONTENT_TYPE),
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
    let mut body = &reply.body[..];
    let mut families = Vec::new();
    while !body.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut body).expect("a family"));
    }
    let native_of = |name: &str| {
        let family = families.iter().find(|f| f.name == name).unwrap_or_else(|| {
            panic!(
                "{name} in {:?}",
                families.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        });
        let h = family.metric[0].histogram.clone().expect("a histogram");
        (
            h.schema,
            h.sample_count,
            h.positive_span.len(),
            h.bucket.len(),
        )
    };
    let (schema, count, spans, classic) = native_of("observe_operation_duration_seconds");
    assert_eq!((schema, count), (3, 3));
    assert!(spans >= 1 && classic == 16);
    let (schema, count, spans, classic) = native_of("observe_http_request_duration_seconds");
    assert_eq!((schema, count), (3, 3));
    assert!(spans >= 1 && classic >= 15);
    for family in ["process_cpu_seconds_total", "observe_http_requests_total"] {
        assert!(families.iter().any(|f| f.name == family), "{family}");
    }
    // Text stays text, and classic.
    let text = get(&service, "/prometheus").await;
    let text = String::from_utf8_lossy(&text.body);
    assert!(
        text.contains("observe_http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_json_errors() {
    let (_, service) = populated();
    let missing = get(&service, "/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["status"], 404);
    for (method, uri, allow) in [
        (Method::POST, "/health", "GET, HEAD"),
        (Method::DELETE, "/metrics", "GET, HEAD"),
        (Method::PUT, "/prometheus", "GET, HEAD"),
        (Method::GET, "/reset", "POST"),
        (Method::HEAD, "/reset", "POST"),
    ] {
        let reply = call(&service, request(method.clone(), uri)).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert_eq!(reply.header(ALLOW), allow, "{method} {uri}");
        if method != Method::HEAD {
            assert_eq!(reply.json()["status"], 405);
        }
    }
}

#[tokio::test]
async fn every_response_is_uncacheable_and_head_mirrors_get() {
    let (_, service) = populated();
    for uri in [
        "/",
        "/health",
        "/ready",
        "/live",
        "/metrics",
        "/system",
        "/operation?name=db_query",
        "/prometheus",
        "/nope",
        "/operation",
    ] {
        let got = get(&service, uri).await;
        assert_eq!(got.header(CACHE_CONTROL), "no-store", "{uri}");
        let head = call(&service, request(Method::HEAD, uri)).await;
        assert_eq!(head.status, got.status, "{uri}");
        assert!(head.body.is_empty(), "{uri}");
        assert_eq!(head.header(CONTENT_TYPE), got.header(CONTENT_TYPE), "{uri}");
        if !matches!(
            uri,
            "/system" | "/prometheus" | "/health" | "/live" | "/metrics"
        ) {
            // Bodies that change with time aside (uptimes, recent rates), the length is
            // the GET length.
            assert_eq!(
                head.header(CONTENT_LENGTH),
                got.body.len().to_string(),
                "{uri}"
            );
        }
    }
}

#[tokio::test]
async fn a_trailing_slash_reaches_the_same_endpoint() {
    let (_, service) = populated();
    assert_eq!(get(&service, "/metrics/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn live_answers_alive_with_the_uptime() {
    let (_, service) = populated();
    let reply = get(&service, "/live").await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["status"], "alive");
    assert!(json["uptime"].as_str().is_some());
}
