//! `/health`, `/ready` and `/live` over a real health registry.

use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, StatusCode};
use observe_core::MetricsCollector;
use observe_core::health::{CheckOptions, CheckResult, HealthRegistry, fn_check};
use observe_tower::MonitoringService;
use observe_tower::monitoring::DetailsPolicy;

use super::{TOKEN, call, get, request};

/// `db` (critical, ready), `cache` (not critical), `partner` (detailed), each answering
/// what the flags say.
fn registry(collector: &MetricsCollector, db_up: bool, cache_up: bool) -> HealthRegistry {
    let answer = |up: bool, name: &'static str| {
        move || async move {
            let result = if up {
                CheckResult::healthy()
            } else {
                CheckResult::unhealthy(format!("{name} refused"))
            };
            result.with_detail("ping_ms", 1.5)
        }
    };
    HealthRegistry::builder()
        .service("expenses", "9.9.9")
        .collector(collector)
        .check_with(
            fn_check("db", answer(db_up, "db")),
            CheckOptions::new().ready(),
        )
        .check_with(
            fn_check("cache", answer(cache_up, "cache")),
            CheckOptions::new().critical(false),
        )
        .check_with(
            fn_check("partner", answer(true, "partner")),
            CheckOptions::new().detailed(),
        )
        .build()
        .expect("valid")
}

fn service(db_up: bool, cache_up: bool, details: DetailsPolicy) -> MonitoringService {
    let collector = MetricsCollector::new();
    MonitoringService::builder(&collector)
        .health(&registry(&collector, db_up, cache_up))
        .reset_token(TOKEN)
        .details(details)
        .build()
}

fn with_header(
    uri: &str,
    name: http::header::HeaderName,
    value: &str,
) -> http::Request<http_body_util::Empty<bytes::Bytes>> {
    let mut req = request(Method::GET, uri);
    req.headers_mut()
        .insert(name, value.parse().expect("a header value"));
    req
}

#[tokio::test]
async fn health_reports_status_and_checks_with_200_or_503() {
    let healthy = get(&service(true, true, DetailsPolicy::Always), "/health").await;
    assert_eq!(healthy.status, StatusCode::OK);
    assert_eq!(healthy.header(CONTENT_TYPE), "application/json");
    let json = healthy.json();
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["service"], "expenses");
    assert_eq!(json["version"], "9.9.9");
    assert_eq!(json["checks"]["db"]["details"]["ping_ms"], 1.5);
    assert!(
        json["checks"].get("partner").is_none(),
        "detailed checks only on request"
    );
    assert!(json["operation_metrics"]["total_operations"].is_number());
    assert!(json["timestamp"].is_string());

    let degraded = get(&service(true, false, DetailsPolicy::Always), "/health").await;
    assert_eq!(
        (degraded.status, degraded.json()["status"].clone()),
        (StatusCode::OK, "degraded".into())
    );
    let down = get(&service(false, true, DetailsPolicy::Always), "/health").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.json()["checks"]["db"]["error"], "db refused");

    let detailed = get(
        &service(true, true, DetailsPolicy::Always),
        "/health?detailed=true",
    )
    .await;
    assert_eq!(detailed.json()["checks"]["partner"]["status"], "healthy");
    let excluded = get(
        &service(false, true, DetailsPolicy::Always),
        "/health?exclude=db&exclude=cache",
    )
    .await;
    assert_eq!(excluded.status, StatusCode::OK);
    assert_eq!(
        excluded.json()["checks"].as_object().map(|o| o.len()),
        Some(0)
    );
    for bad in [
        "/health?detailed=maybe",
        "/health?verbose=2",
        "/health?exclude=",
    ] {
        let reply = get(&service(true, true, DetailsPolicy::Always), bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.json()["status"], 400);
    }
}

#[tokio::test]
async fn details_follow_the_policy_and_the_token() {
    let hidden = |json: &serde_json::Value| {
        json["checks"]["db"]["details"]
            .as_object()
            .is_some_and(|d| d.is_empty())
            && json["checks"]["db"].get("error").is_none()
    };
    let with_token = service(false, true, DetailsPolicy::WithToken);
    let anonymous = get(&with_token, "/health").await.json();
    assert!(hidden(&anonymous), "{anonymous}");
    assert_eq!(
        anonymous["checks"]["db"]["status"], "unhealthy",
        "statuses always show"
    );
    let wrong = call(
        &with_token,
        with_header("/health", AUTHORIZATION, "Bearer wrong"),
    )
    .await
    .json();
    assert!(hidden(&wrong));
    let right = call(
        &with_token,
        with_header("/health", AUTHORIZATION, &format!("Bearer {TOKEN}")),
    )
    .await;
    assert!(!hidden(&right.json()), "{}", right.json());

    let never = service(false, true, DetailsPolicy::Never);
    let json = call(
        &never,
        with_header("/health", AUTHORIZATION, &format!("Bearer {TOKEN}")),
    )
    .await
    .json();
    assert!(hidden(&json));
    let always = get(&service(false, true, DetailsPolicy::Always), "/health")
        .await
        .json();
    assert!(!hidden(&always));
}

#[tokio::test]
async fn health_speaks_the_ietf_health_json_format_when_asked() {
    let reply = call(
        &service(true, false, DetailsPolicy::Always),
        with_header(
            "/health",
            ACCEPT,
            "application/json;q=0.5, application/health+json",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(CONTENT_TYPE), "application/health+json");
    let json = reply.json();
    assert_eq!(json["status"], "warn");
    assert_eq!(json["serviceId"], "expenses");
    assert_eq!(json["version"], "9.9.9");
    let db = &json["checks"]["db:responseTime"][0];
    assert_eq!(db["status"], "pass");
    assert_eq!(db["componentType"], "component");
    assert_eq!(db["observedUnit"], "ms");
    assert!(db["observedValue"].is_number());
    assert!(db["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(json["checks"]["cache:responseTime"][0]["status"], "fail");
    assert_eq!(
        json["checks"]["cache:responseTime"][0]["output"],
        "cache refused"
    );
    assert_eq!(json["checks"]["uptime"][0]["componentType"], "system");

    let down = call(
        &service(false, true, DetailsPolicy::Always),
        with_header("/health", ACCEPT, "application/health+json"),
    )
    .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.json()["status"], "fail");
    assert_eq!(down.json()["output"], "failing: db");
}

#[tokio::test]
async fn ready_follows_the_ready_checks_verbose_exclude_and_draining() {
    let up = service(true, false, DetailsPolicy::Always);
    let reply = get(&up, "/ready").await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the cache is not tagged ready"
    );
    assert_eq!(reply.json(), serde_json::json!({"status": "ready"}));
    let verbose = get(&up, "/ready?verbose").await.json();
    assert_eq!(verbose["checks"], serde_json::json!({"db": "healthy"}));

    let down = service(false, true, DetailsPolicy::Always);
    let reply = get(&down, "/ready").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.json(),
        serde_json::json!({"status": "not_ready", "failing": ["db"]})
    );
    assert_eq!(get(&down, "/ready?exclude=db").await.status, StatusCode::OK);

    let readiness = up.readiness();
    readiness.drain();
    let draining = get(&up, "/ready").await;
    assert_eq!(draining.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(draining.json()["reason"], "draining");
    assert_eq!(
        get(&up, "/live").await.status,
        StatusCode::OK,
        "draining is not dying"
    );
    readiness.resume();
    assert_eq!(get(&up, "/ready").await.status, StatusCode::OK);
}

#[tokio::test]
async fn live_ignores_dependencies_unless_a_limit_is_set() {
    let down = service(false, false, DetailsPolicy::Always);
    let reply = get(&down, "/live").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "alive");

    let collector = MetricsCollector::new();
    let limited = MonitoringService::builder(&collector)
        .health(&registry(&collector, false, true))
        .liveness_limit(Duration::from_millis(100))
        .build();
    assert_eq!(
        get(&limited, "/live").await.status,
        StatusCode::OK,
        "failing, but not for long"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let dead = get(&limited, "/live").await;
    assert_eq!(dead.status, StatusCode::SERVICE_UNAVAILABLE);
    let json = dead.json();
    assert_eq!(json["status"], "not_alive");
    assert_eq!(json["failing"], serde_json::json!(["db"]));
}

#[tokio::test]
async fn head_mirrors_get_on_the_health_endpoints() {
    let down = service(false, true, DetailsPolicy::Always);
    for uri in ["/health", "/ready", "/live"] {
        let get_reply = get(&down, uri).await;
        let head = call(&down, request(Method::HEAD, uri)).await;
        assert_eq!(head.status, get_reply.status, "{uri}");
        assert!(head.body.is_empty(), "{uri}");
        assert_eq!(
            head.header(CONTENT_TYPE),
            get_reply.header(CONTENT_TYPE),
            "{uri}"
        );
    }
}
