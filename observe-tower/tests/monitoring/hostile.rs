//! What a caller who is not trusted can and cannot do through `MonitoringService`: it
//! reads no body, creates no operation by looking one up, and never sees the token,
//! neither the configured one nor its own guess.

use http::header::AUTHORIZATION;
use http::{Method, Request, StatusCode};
use observe_core::MetricsCollector;
use observe_tower::MonitoringService;
use tower::ServiceExt;

use crate::{TOKEN, call, get, reply, request};

/// A request body that is not an `http_body::Body` at all: the service compiles for it
/// because it never reads a body, so no request body costs it anything.
struct NotABody;

#[tokio::test]
async fn no_endpoint_reads_the_request_body() {
    let collector = MetricsCollector::new();
    let service = MonitoringService::builder(&collector)
        .reset_token(TOKEN)
        .with_dashboard()
        .build();
    for (method, path) in [
        (Method::GET, "/health"),
        (Method::GET, "/metrics"),
        (Method::GET, "/prometheus"),
        (Method::GET, "/dashboard/data"),
        (Method::POST, "/reset"),
        (Method::PUT, "/health"),
    ] {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(NotABody)
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("infallible");
        let answer = reply(response).await;
        assert_ne!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[tokio::test]
async fn looking_names_up_creates_no_operation() {
    let collector = MetricsCollector::builder()
        .max_operations(10)
        .build()
        .expect("a collector");
    collector.record_operation("known", std::time::Duration::from_millis(1), false);
    let service = MonitoringService::builder(&collector).build();
    for i in 0..1_000 {
        let answer = get(&service, &format!("/operation?name=probe_{i}")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
    }
    let long = "x".repeat(60_000);
    let answer = get(&service, &format!("/operation?name={long}")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(collector.len(), 1, "only the recorded operation exists");
    assert_eq!(collector.summary().overflowed_operations, 0);
}

#[tokio::test]
async fn neither_the_token_nor_a_guess_is_ever_shown() {
    const GUESS: &str = "a-guess-of-the-caller";
    let collector = MetricsCollector::new();
    let service = MonitoringService::builder(&collector)
        .reset_token(TOKEN)
        .with_dashboard()
        .build();
    for (method, path) in [
        (Method::POST, "/reset"),
        (Method::GET, "/health"),
        (Method::GET, "/dashboard"),
        (Method::GET, "/dashboard/data"),
    ] {
        for authorization in [format!("Bearer {GUESS}"), format!("Basic {GUESS}")] {
            let mut req = request(method.clone(), path);
            req.headers_mut().insert(
                AUTHORIZATION,
                authorization.parse().expect("a header value"),
            );
            let answer = call(&service, req).await;
            let headers = format!("{:?}", answer.headers);
            let body = String::from_utf8_lossy(&answer.body);
            for secret in [TOKEN, GUESS] {
                assert!(
                    !body.contains(secret) && !headers.contains(secret),
                    "{method} {path}: {secret:?} in {headers} {body}"
                );
            }
        }
    }
    let builder = MonitoringService::builder(&collector).reset_token(TOKEN);
    let debug = format!("{builder:?}");
    let debug = format!("{debug} {:?}", builder.build());
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("reset_enabled: true"), "{debug}");
}
