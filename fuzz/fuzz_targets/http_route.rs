//! Route labelling in `HttpMetricsLayer`: arbitrary methods and paths through an axum
//! router (route templates from `MatchedPath`), and for the fallback a route resolver
//! whose template comes from the request (`?route=...`, percent-decoded, so any text).
//!
//! After every sequence of requests the exposition parses, counts each measured request
//! once, and carries only bounded labels: the nine methods or `_OTHER`; the router's
//! templates, the resolver's (cut at 256 bytes), `unmatched`, or `__overflow__` past the
//! cap. Excluded paths are not counted. Input: requests in the text form of
//! `observe_fuzz::request`, separated by `---` lines.

#![no_main]

use std::collections::BTreeSet;

use axum::Router;
use axum::routing::get;
use http::{Method, Uri};
use libfuzzer_sys::fuzz_target;
use observe_core::MetricsCollector;
use observe_core::prometheus::ExpositionFormat;
use observe_fuzz::reply::Reply;
use observe_tower::HttpMetricsLayer;
use openmetrics_parser::PrometheusValue;
use tower::ServiceExt;

const MAX_ROUTES: usize = 4;
const TEMPLATES: &[&str] = &["/", "/users/{id}", "/files/{*path}"];
const STANDARD: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn resolve(_: &Method, uri: &Uri, _: &http::Extensions) -> Option<String> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "route")
        .map(|(_, v)| v.into_owned())
}

fuzz_target!(|data: &[u8]| {
    let requests = observe_fuzz::request::parse_all(data);
    if requests.len() > 64 {
        return;
    }
    observe_fuzz::runtime().block_on(check(requests));
});

async fn check(requests: Vec<http::Request<bytes::Bytes>>) {
    // A raw carriage return in a label value is valid Prometheus text (only `\`, `"` and
    // a line feed are escaped; promtool accepts it), but openmetrics-parser reads it as
    // the end of a line: such routes are left out (docs/fuzzing.md).
    let has_cr = |r: &http::Request<bytes::Bytes>| {
        resolve(r.method(), r.uri(), r.extensions()).is_some_and(|t| t.contains('\r'))
    };
    if requests.iter().any(has_cr) {
        return;
    }
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let layer = HttpMetricsLayer::builder(&collector)
        .max_routes(MAX_ROUTES)
        .route_resolver(resolve)
        .exclude_path("/health")
        .exclude_prefix("/internal/")
        .build();
    let router: Router = Router::new()
        .route("/", get(|| async { "home" }))
        .route(
            "/users/{id}",
            get(|| async { "user" }).post(|| async { "created" }),
        )
        .route("/files/{*path}", get(|| async { "file" }))
        .fallback(|| async { (http::StatusCode::NOT_FOUND, "none") })
        .layer(layer);

    let mut measured = 0u64;
    let mut resolved = BTreeSet::new();
    for request in requests {
        let path = request.uri().path().to_owned();
        if path != "/health" && !path.starts_with("/internal/") {
            measured += 1;
        }
        if let Some(route) = resolve(request.method(), request.uri(), request.extensions()) {
            resolved.insert(cut(&route, 256).to_owned());
        }
        let response = router
            .clone()
            .oneshot(request.map(axum::body::Body::from))
            .await
            .unwrap_or_else(|e| match e {});
        let _ = Reply::read(response).await;
    }

    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .unwrap_or_else(|e| panic!("{e}"));
    // The family under test, parsed alone: the parser is slow, and it is not what is
    // fuzzed here (the round-trip target parses whole expositions).
    let family = family_text(&text, "observe_http_requests_total");
    if family.is_empty() {
        assert_eq!(measured, 0, "{measured} requests and no family\n{text}");
        return;
    }
    let exposition = openmetrics_parser::prometheus::parse_prometheus(family)
        .unwrap_or_else(|e| panic!("the exposition does not parse: {e:?}\n{text}"));
    let mut counted = 0u64;
    let mut routes = BTreeSet::new();
    if let Some(family) = exposition.families.get("observe_http_requests_total") {
        for sample in family.iter_samples() {
            let labels = sample.get_labelset().unwrap_or_else(|e| panic!("{e:?}"));
            let label = |name: &str| {
                labels
                    .get_label_value(name)
                    .unwrap_or_else(|| panic!("no {name} label"))
            };
            let method = label("method");
            assert!(
                STANDARD.contains(&method) || method == "_OTHER",
                "method {method:?}"
            );
            let route = label("route");
            let known = TEMPLATES.contains(&route)
                || route == "unmatched"
                || route == "__overflow__"
                || resolved.contains(route);
            assert!(known, "route {route:?} was never a template\n{text}");
            if route != "unmatched" && route != "__overflow__" {
                routes.insert(route.to_owned());
            }
            let status: u16 = label("status")
                .parse()
                .unwrap_or_else(|e| panic!("status: {e}"));
            assert!((100..=999).contains(&status));
            match &sample.value {
                PrometheusValue::Counter(c) => counted += c.value.as_f64() as u64,
                other => panic!("not a counter: {other:?}"),
            }
        }
    }
    assert!(
        routes.len() <= MAX_ROUTES,
        "{} routes past the cap of {MAX_ROUTES}",
        routes.len()
    );
    assert_eq!(counted, measured, "requests counted\n{text}");
    // The same requests, as the collector's operations "{METHOD} {route}".
    let recorded: u64 = collector.snapshot().iter().map(|op| op.count).sum();
    assert_eq!(recorded, measured);
}

/// The lines of `family` in a Prometheus text exposition: from its `# HELP` to the next
/// family's.
fn family_text<'a>(text: &'a str, family: &str) -> &'a str {
    let Some(start) = text.find(&format!("# HELP {family} ")) else {
        return "";
    };
    let rest = &text[start..];
    match rest[1..].find("\n# HELP ") {
        Some(end) => &rest[..end + 2],
        None => rest,
    }
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
