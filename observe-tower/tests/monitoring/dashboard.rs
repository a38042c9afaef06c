//! The dashboard: off unless enabled, one guard for the page and its data, strict
//! headers, bad input answered like every monitoring endpoint, a bounded history.

use std::time::Duration;

use http::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    WWW_AUTHENTICATE,
};
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use observe_core::MetricsCollector;
use observe_tower::MonitoringService;
use observe_tower::monitoring::{DashboardHistory, DetailsPolicy};

use crate::{TOKEN, call, get, request};

const PATHS: [&str; 4] = [
    "/dashboard",
    "/dashboard/app.js",
    "/dashboard/style.css",
    "/dashboard/data",
];

fn open() -> (MetricsCollector, MonitoringService) {
    let collector = MetricsCollector::new();
    let service = MonitoringService::builder(&collector)
        .details(DetailsPolicy::Always)
        .with_dashboard()
        .build();
    (collector, service)
}

fn with_auth(uri: &str, value: &str) -> Request<Empty<bytes::Bytes>> {
    Request::builder()
        .uri(uri)
        .header(AUTHORIZATION, value)
        .body(Empty::new())
        .expect("request")
}

#[tokio::test]
async fn the_dashboard_is_off_unless_enabled() {
    let collector = MetricsCollector::new();
    let service = MonitoringService::builder(&collector)
        .details(DetailsPolicy::Always)
        .build();
    for path in PATHS {
        let reply = get(&service, path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.json()["error"].is_string());
    }
    let index = get(&service, "/").await.json();
    assert!(
        !index["endpoints"]
            .as_array()
            .expect("a list")
            .contains(&"/dashboard".into())
    );
    assert!(service.dashboard_history().is_none());
}

#[tokio::test]
async fn the_page_and_its_assets_carry_strict_headers_and_stay_small() {
    let (_, service) = open();
    let index = get(&service, "/").await.json();
    assert!(
        index["endpoints"]
            .as_array()
            .expect("a list")
            .contains(&"/dashboard".into())
    );
    let mut weight = 0;
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/style.css", "text/css"),
    ] {
        let reply = get(&service, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.header(CONTENT_TYPE).starts_with(kind), "{path}");
        let csp = reply.header(CONTENT_SECURITY_POLICY);
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(
            reply
                .headers
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        let cache = reply.header(CACHE_CONTROL);
        if path == "/dashboard" {
            assert_eq!(cache, "no-cache");
        } else {
            assert!(cache.contains("max-age="), "{path}: {cache}");
        }
        let text = String::from_utf8(reply.body.to_vec()).expect("UTF-8");
        assert!(!text.contains("https://"), "{path} names another origin");
        weight += reply.body.len();
    }
    assert!(weight <= 40 * 1024, "the page weighs {weight} bytes");
    let page = String::from_utf8(get(&service, "/dashboard").await.body.to_vec()).expect("UTF-8");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        page.contains(&format!("dashboard/app.js?v={version}")),
        "{page}"
    );
    assert!(!page.contains("<script>"), "no inline script");
    // The page's links are relative to `.../dashboard`: a trailing slash goes there.
    let reply = get(&service, "/dashboard/").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.header(LOCATION), "../dashboard");
}

#[tokio::test]
async fn data_holds_the_history_the_table_and_the_health() {
    let collector = MetricsCollector::new();
    let history = DashboardHistory::new(&collector).interval(Duration::ZERO);
    let service = MonitoringService::builder(&collector)
        .details(DetailsPolicy::Always)
        .dashboard(history)
        .build();
    collector.record_operation("db_query", Duration::from_millis(4), false);
    collector.record_operation("db_query", Duration::from_millis(8), true);
    let reply = get(&service, "/dashboard/data").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(CACHE_CONTROL), "no-store");
    let data = reply.json();
    assert_eq!(data["seq"], 1);
    assert_eq!(data["points"].as_array().map(Vec::len), Some(1));
    let point = &data["points"][0];
    assert_eq!(point["ops"][0][0], "db_query");
    assert_eq!(point["ops"][0][1][1], 50.0, "error percentage: {point}");
    assert!(point["rate"].as_f64().is_some_and(|r| r > 0.0), "{point}");
    let row = &data["operations"]["rows"][0];
    assert_eq!(
        (row["name"].clone(), row["count"].clone()),
        ("db_query".into(), 2.into())
    );
    assert!(row["p99"].as_f64().is_some_and(|p| p >= 4.0), "{row}");
    assert_eq!(data["operations"]["total"], 1);
    assert_eq!(data["summary"]["total_operations"], 2);
    assert_eq!(data["health"]["status"], "healthy");
    // The delta: only what came after `since`.
    let delta = get(&service, "/dashboard/data?since=1").await.json();
    assert_eq!(delta["seq"], 2);
    assert_eq!(delta["points"].as_array().map(Vec::len), Some(1));
    assert_eq!(delta["points"][0]["seq"], 2);
    assert_eq!(delta["points"][0]["ops"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let (_, service) = open();
    let reply = get(&service, "/dashboard/data?since=yesterday").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .expect("a message")
            .contains("since")
    );
    let reply = get(&service, "/dashboard/nothing-here").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["status"], 404);
    for path in PATHS {
        let reply = call(&service, request(Method::POST, path)).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(reply.header(ALLOW), "GET, HEAD");
        assert!(reply.headers.contains_key(CONTENT_SECURITY_POLICY));
    }
    let reply = call(&service, request(Method::HEAD, "/dashboard")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn one_guard_keeps_the_page_and_every_data_endpoint() {
    let collector = MetricsCollector::new();
    collector.record_operation("secret_operation", Duration::from_millis(1), false);
    let service = MonitoringService::builder(&collector)
        .reset_token(TOKEN)
        .with_dashboard()
        .build();
    for path in PATHS {
        let reply = get(&service, path).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            reply.header(WWW_AUTHENTICATE).starts_with("Basic "),
            "{path}"
        );
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        assert!(!body.contains("secret_operation"), "{path}: {body}");
        let reply = call(&service, with_auth(path, "Bearer wrong")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        let reply = call(&service, with_auth(path, &format!("Bearer {TOKEN}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    // The browser's way: Basic credentials, the token as the password ("me:s3cret-token").
    let reply = call(
        &service,
        with_auth("/dashboard/data", "Basic bWU6czNjcmV0LXRva2Vu"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&reply.body).contains("secret_operation"));

    // A token policy without a token, and `never`: closed to everyone.
    let closed = MonitoringService::builder(&collector)
        .with_dashboard()
        .build();
    assert_eq!(
        get(&closed, "/dashboard").await.status,
        StatusCode::FORBIDDEN
    );
    let never = MonitoringService::builder(&collector)
        .reset_token(TOKEN)
        .with_dashboard()
        .dashboard_access(DetailsPolicy::Never)
        .build();
    let reply = call(&never, with_auth("/dashboard", &format!("Bearer {TOKEN}"))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Its own policy: an open dashboard while health details stay guarded.
    let own = MonitoringService::builder(&collector)
        .with_dashboard()
        .dashboard_access(DetailsPolicy::Always)
        .build();
    assert_eq!(get(&own, "/dashboard/data").await.status, StatusCode::OK);
}

#[test]
fn the_history_is_bounded_whatever_the_number_of_operations() {
    let collector = MetricsCollector::new();
    let history = DashboardHistory::new(&collector)
        .interval(Duration::ZERO)
        .points(3)
        .operations(2)
        .table_rows(5);
    for round in 0..10 {
        for i in 0..50 {
            collector.record_operation(
                &format!("op_{i}"),
                Duration::from_micros(10 + round),
                false,
            );
        }
        assert!(history.tick());
    }
    let data: serde_json::Value =
        serde_json::from_slice(&history.encode_since(None)).expect("JSON");
    let points = data["points"].as_array().expect("points");
    assert_eq!(points.len(), 3);
    // The last point was taken by this read, after the traffic: no operation in it.
    assert!(
        points[..2]
            .iter()
            .all(|p| p["ops"].as_array().map(Vec::len) == Some(2))
    );
    assert_eq!(points[2]["ops"], serde_json::json!([]));
    assert_eq!(data["operations"]["rows"].as_array().map(Vec::len), Some(5));
    assert_eq!(data["operations"]["total"], 50);
    assert!(
        history.memory_bytes() < 64 * 1024,
        "{}",
        history.memory_bytes()
    );
    // A reset of the JSON views does not make a negative rate.
    collector.reset();
    collector.record_operation("op_0", Duration::from_micros(10), false);
    assert!(history.tick());
    let data: serde_json::Value =
        serde_json::from_slice(&history.encode_since(Some(11))).expect("JSON");
    let last = data["points"]
        .as_array()
        .and_then(|p| p.last())
        .expect("a point");
    assert!(last["rate"].as_f64().is_some_and(|r| r >= 0.0), "{last}");
}
