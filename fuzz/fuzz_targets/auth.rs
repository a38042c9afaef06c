//! The token checks of the monitoring endpoints, through `MonitoringService`: the bearer
//! check of `POST /reset` and of the health details, and the dashboard's guard (a bearer
//! token, or HTTP Basic credentials whose password is the token).
//!
//! Input: the configured token on the first line, the `Authorization` value on the
//! second. Each answer is compared with the rules written out here, with the `base64`
//! crate as the reference decoder: the right token opens, anything else is refused with
//! 401 (403 when no token is configured), never a panic.

#![no_main]

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use observe_core::MetricsCollector;
use observe_core::health::{CheckResult, HealthRegistry, fn_check};
use observe_fuzz::reply::Reply;
use observe_tower::MonitoringService;
use tower::ServiceExt;

const SECRET: &str = "shown-only-with-the-token";

fuzz_target!(|data: &[u8]| {
    let (token, authorization) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let header = HeaderValue::from_bytes(authorization).ok();
    observe_fuzz::runtime().block_on(check(token, header));
});

async fn check(token: &str, header: Option<HeaderValue>) {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let health = HealthRegistry::builder()
        .check(fn_check("database", || async {
            CheckResult::healthy().with_detail("pool", SECRET)
        }))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let service = MonitoringService::builder(&collector)
        .health(&health)
        .reset_token(token)
        .with_dashboard()
        .build();
    let value = header.as_ref().and_then(|v| v.to_str().ok());
    let configured = !token.is_empty();
    let bearer = configured && value.is_some_and(|v| bearer_is(v, token));
    let basic = configured && value.is_some_and(|v| basic_password_is(v, token));
    let call = |method: Method, path: &'static str| {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(bytes::Bytes::new())
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(header) = &header {
            request.headers_mut().insert(AUTHORIZATION, header.clone());
        }
        let service = service.clone();
        async move {
            let response = service
                .oneshot(request)
                .await
                .unwrap_or_else(|e| match e {});
            Reply::read(response).await
        }
    };

    collector.record_operation("checkout", std::time::Duration::from_millis(1), false);
    let reset = call(Method::POST, "/reset").await;
    let expected = match (configured, bearer) {
        (false, _) => StatusCode::FORBIDDEN,
        (true, true) => StatusCode::OK,
        (true, false) => StatusCode::UNAUTHORIZED,
    };
    assert_eq!(
        reset.status, expected,
        "reset with {value:?}, token {token:?}"
    );
    if expected == StatusCode::UNAUTHORIZED {
        assert_eq!(reset.header(WWW_AUTHENTICATE), "Bearer");
    }
    if expected != StatusCode::OK {
        reset.assert_clear_error(&Method::POST);
        assert_eq!(
            collector.get("checkout").map(|op| op.count),
            Some(1),
            "a refused reset reset"
        );
    } else {
        assert_eq!(collector.get("checkout").map(|op| op.count), Some(0));
    }

    let page = call(Method::GET, "/dashboard").await;
    let expected = match (configured, bearer || basic) {
        (false, _) => StatusCode::FORBIDDEN,
        (true, true) => StatusCode::OK,
        (true, false) => StatusCode::UNAUTHORIZED,
    };
    assert_eq!(
        page.status, expected,
        "dashboard with {value:?}, token {token:?}"
    );
    if expected != StatusCode::OK {
        page.assert_clear_error(&Method::GET);
    }

    let report = call(Method::GET, "/health").await;
    assert_eq!(report.status, StatusCode::OK);
    let shown = String::from_utf8_lossy(&report.body).contains(SECRET);
    assert_eq!(shown, bearer, "details with {value:?}, token {token:?}");
}

/// `Bearer <token>` (RFC 6750: the scheme in any case, one space, the token), with
/// spaces around allowed.
fn bearer_is(value: &str, token: &str) -> bool {
    strip_scheme(value, "bearer").is_some_and(|rest| rest == token)
}

/// `Basic base64(user:password)` (RFC 7617) with `password` the token.
fn basic_password_is(value: &str, token: &str) -> bool {
    let Some(encoded) = strip_scheme(value, "basic") else {
        return false;
    };
    if encoded.len() > 4096 {
        return false;
    }
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
            .with_decode_allow_trailing_bits(true),
    );
    let Ok(decoded) = engine.decode(encoded) else {
        return false;
    };
    match decoded.iter().position(|&b| b == b':') {
        Some(colon) => &decoded[colon + 1..] == token.as_bytes(),
        None => false,
    }
}

/// What follows `scheme` and a space at the start of `value` (both trimmed), any case.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let value = value.trim();
    let head = value.get(..scheme.len())?;
    let rest = value[scheme.len()..].strip_prefix(' ')?;
    head.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}
