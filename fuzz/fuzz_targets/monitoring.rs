//! `MonitoringService` with arbitrary requests: path routing (trailing slashes, unknown
//! paths, the dashboard's), methods, query strings (`name`, `operation`, `exclude`,
//! `verbose`, `detailed`, `since`, junk and bad escapes), `Accept` and `Authorization`.
//!
//! Every answer is one the endpoint documents; every error is a JSON
//! `{"error", "status"}`; `HEAD` has no body; health details never reach a caller
//! without the token; and no request but an authorised `POST /reset` changes what the
//! collector holds. Input: requests in the text form of `observe_fuzz::request`.

#![no_main]

use std::sync::OnceLock;

use http::header::{ACCEPT, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use observe_core::MetricsCollector;
use observe_fuzz::monitoring::{self, SECRET_DETAIL, TOKEN};
use observe_fuzz::reply::Reply;
use observe_tower::MonitoringService;
use observe_tower::monitoring::Exposition;
use tower::ServiceExt;

fn state() -> &'static (MonitoringService, MetricsCollector) {
    static STATE: OnceLock<(MonitoringService, MetricsCollector)> = OnceLock::new();
    STATE.get_or_init(monitoring::service)
}

fuzz_target!(|data: &[u8]| {
    let (service, collector) = state();
    for request in observe_fuzz::request::parse_all(data) {
        observe_fuzz::runtime().block_on(check(service, collector, request));
    }
});

async fn check(
    service: &MonitoringService,
    collector: &MetricsCollector,
    req: Request<bytes::Bytes>,
) {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_owned();
    let path = if raw_path.len() > 1 {
        raw_path.trim_end_matches('/').to_owned()
    } else {
        raw_path.clone()
    };
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded_pairs(q.as_bytes()))
        .unwrap_or_default();
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(presents_token);
    let before = monitoring::counts(collector);
    let response = service
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let reply = Reply::read(response).await;
    let status = reply.status;
    let read_only = method == Method::GET || method == Method::HEAD;
    let dashboard = path == "/dashboard" || path.starts_with("/dashboard/");

    if method == Method::HEAD {
        assert!(
            reply.body.is_empty(),
            "HEAD {raw_path:?} has a body: {reply:?}"
        );
    }
    // A 503 of `/health` or `/ready` is a report, not an error (a stale check under a
    // loaded machine can make one); every other 4xx and 5xx is an error.
    let report =
        status == StatusCode::SERVICE_UNAVAILABLE && (path == "/health" || path == "/ready");
    if (status.is_client_error() || status.is_server_error()) && !report {
        reply.assert_clear_error(&method);
    }
    if !(dashboard && status == StatusCode::OK) {
        assert_eq!(
            reply.header(CACHE_CONTROL),
            "no-store",
            "{raw_path:?}: {reply:?}"
        );
    }
    let secret_allowed = (status == StatusCode::OK && dashboard)
        || (path == "/health" && bearer && (status == StatusCode::OK || report));
    if !secret_allowed {
        let body = String::from_utf8_lossy(&reply.body);
        assert!(
            !body.contains(SECRET_DETAIL),
            "{method} {raw_path:?} leaked a detail: {body}"
        );
    }

    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let endpoints = [
        "/",
        "/health",
        "/ready",
        "/live",
        "/metrics",
        "/system",
        "/operation",
        "/prometheus",
    ];
    let expected: &[StatusCode] = if dashboard {
        if raw_path.ends_with('/') && path == "/dashboard" {
            &[StatusCode::PERMANENT_REDIRECT]
        } else {
            &[
                StatusCode::OK,
                StatusCode::BAD_REQUEST,
                StatusCode::UNAUTHORIZED,
                StatusCode::NOT_FOUND,
                StatusCode::METHOD_NOT_ALLOWED,
            ]
        }
    } else if path == "/reset" {
        if method != Method::POST {
            assert_eq!(reply.header(ALLOW), "POST");
            &[StatusCode::METHOD_NOT_ALLOWED]
        } else {
            &[StatusCode::OK, StatusCode::UNAUTHORIZED]
        }
    } else if endpoints.contains(&path.as_str()) {
        if !read_only {
            assert_eq!(reply.header(ALLOW), "GET, HEAD");
            &[StatusCode::METHOD_NOT_ALLOWED]
        } else {
            match path.as_str() {
                "/health" => &[
                    StatusCode::OK,
                    StatusCode::SERVICE_UNAVAILABLE,
                    StatusCode::BAD_REQUEST,
                ],
                "/ready" => &[
                    StatusCode::OK,
                    StatusCode::SERVICE_UNAVAILABLE,
                    StatusCode::BAD_REQUEST,
                ],
                "/operation" => {
                    let name = get("name").or_else(|| get("operation"));
                    match name {
                        None | Some("") => &[StatusCode::BAD_REQUEST],
                        Some(name) => match collector.get(name) {
                            Some(op) => {
                                if method == Method::GET {
                                    let json = reply.json();
                                    assert_eq!(json["name"].as_str(), Some(op.name.as_str()));
                                }
                                &[StatusCode::OK]
                            }
                            None => &[StatusCode::NOT_FOUND],
                        },
                    }
                }
                "/prometheus" => {
                    let format = Exposition::negotiate(accept.as_deref());
                    assert_eq!(reply.header(CONTENT_TYPE), format.content_type());
                    &[StatusCode::OK]
                }
                _ => {
                    if method == Method::GET {
                        let _ = reply.json();
                    }
                    &[StatusCode::OK]
                }
            }
        }
    } else {
        &[StatusCode::NOT_FOUND]
    };
    assert!(
        expected.contains(&status),
        "{method} {raw_path:?}: {status}, expected one of {expected:?}"
    );

    let reset = path == "/reset" && method == Method::POST && status == StatusCode::OK;
    if reset {
        assert!(bearer, "reset without the token");
        monitoring::record(collector);
    } else {
        assert_eq!(
            monitoring::counts(collector),
            before,
            "{method} {raw_path:?} changed the collector"
        );
    }
}

/// Whether an `Authorization` value presents the token as a bearer token.
fn presents_token(value: &str) -> bool {
    let value = value.trim();
    value.len() > 7
        && value[..6].eq_ignore_ascii_case("bearer")
        && value.as_bytes()[6] == b' '
        && value[7..].trim() == TOKEN
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn form_urlencoded_pairs(query: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(query)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
