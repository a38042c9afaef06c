//! The live dashboard: `GET dashboard` (the page), `dashboard/app.js`,
//! `dashboard/style.css` and `dashboard/data` (the history once, then deltas), all
//! behind one guard.
//!
//! The page is three plain files compiled in; it makes no request outside the
//! service's origin, and its Content-Security-Policy forbids it to.

mod guard;
mod history;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use observe_core::health::ReportOptions;
use serde_json::Value;

pub use history::DashboardHistory;

use super::query::Query;
use super::response::{self, MonitoringBody};
use super::service::{DetailsPolicy, Shared};

/// The longest the health part of a reply is reused.
const HEALTH_MAX_AGE: Duration = Duration::from_secs(1);

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// No inline script or style, nothing from elsewhere, no framing, no form posts.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A JSON part of a reply, and when it was built.
type Cached = (Instant, Arc<Vec<u8>>);

/// The dashboard of a service: its history and who may see it.
#[derive(Clone, Debug)]
pub(crate) struct Dashboard {
    pub(crate) history: DashboardHistory,
    pub(crate) access: Option<DetailsPolicy>,
    /// The page, with the version in its asset URLs so that they may be cached.
    page: String,
    /// The health part of the last reply, reused for a second: however many pages
    /// poll, the report (and the collector summary in it) is built once a second.
    health: Arc<Mutex<Option<Cached>>>,
}

impl Dashboard {
    pub(crate) fn new(history: DashboardHistory, access: Option<DetailsPolicy>) -> Self {
        Self {
            history,
            access,
            page: INDEX_HTML.replace("{{version}}", env!("CARGO_PKG_VERSION")),
            health: Arc::default(),
        }
    }
}

/// Whether `path` (relative to the mount point) belongs to the dashboard.
pub(crate) fn owns(path: &str) -> bool {
    path == "/dashboard" || path.starts_with("/dashboard/")
}

/// Answers a dashboard path; `read_only` is false for methods other than GET and HEAD.
pub(crate) async fn route(
    shared: &Shared,
    path: &str,
    read_only: bool,
    headers: &HeaderMap,
    query: &Query,
) -> Response<MonitoringBody> {
    let Some(dashboard) = &shared.dashboard else {
        return response::error(
            StatusCode::NOT_FOUND,
            "no endpoint at \"/dashboard\": the dashboard is not enabled \
             (MonitoringServiceBuilder::with_dashboard)",
        );
    };
    let known = matches!(
        path,
        "/dashboard" | "/dashboard/app.js" | "/dashboard/style.css" | "/dashboard/data"
    );
    if !known {
        return secure(response::error(
            StatusCode::NOT_FOUND,
            &format!("no endpoint at {path:?}"),
        ));
    }
    if !read_only {
        return secure(response::method_not_allowed("GET, HEAD"));
    }
    let policy = dashboard.access.unwrap_or(shared.details);
    if let Err(denied) = guard::check(policy, shared.token.as_deref(), headers) {
        return secure(*denied);
    }
    let response = match path {
        "/dashboard" => asset(&dashboard.page, "text/html; charset=utf-8", false),
        "/dashboard/app.js" => asset(APP_JS, "text/javascript; charset=utf-8", true),
        "/dashboard/style.css" => asset(STYLE_CSS, "text/css; charset=utf-8", true),
        _ => data(shared, dashboard, query).await,
    };
    secure(response)
}

/// An asset; the script and the style are cached by version (their URLs carry it),
/// the page is revalidated so that an upgrade shows at once.
fn asset(body: &str, content_type: &str, immutable: bool) -> Response<MonitoringBody> {
    let mut response = response::bytes(StatusCode::OK, content_type, body.as_bytes().to_vec());
    let cache = if immutable {
        "private, max-age=86400"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `GET dashboard/data[?since=SEQ]`: the points after `since` (all without it), the
/// operations table, the summary, the process figures and the health report.
async fn data(shared: &Shared, dashboard: &Dashboard, query: &Query) -> Response<MonitoringBody> {
    let since = match query.get("since") {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return response::error(
                    StatusCode::BAD_REQUEST,
                    &format!("`since` must be a point's sequence number, got {s:?}"),
                );
            }
        },
    };
    let body = dashboard.history.encode_since(since);
    let health = health_part(shared, dashboard).await;
    // Both are JSON objects: join them into one.
    let mut out = body;
    if out.last() == Some(&b'}') && health.first() == Some(&b'{') && health.len() > 2 {
        out.pop();
        out.push(b',');
        out.extend_from_slice(&health[1..]);
    }
    debug_assert!(serde_json::from_slice::<Value>(&out).is_ok());
    response::bytes(StatusCode::OK, response::JSON, out)
}

/// `"health": ..., "version": ..., "service": ...` as a JSON object, at most a second old.
async fn health_part(shared: &Shared, dashboard: &Dashboard) -> Arc<Vec<u8>> {
    let cached = |slot: &Mutex<Option<Cached>>| {
        slot.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < HEALTH_MAX_AGE)
            .map(|(_, json)| Arc::clone(json))
    };
    if let Some(json) = cached(&dashboard.health) {
        return json;
    }
    let report = shared.health.report(&ReportOptions::new()).await;
    let json = Arc::new(
        serde_json::to_vec(&serde_json::json!({
            "health": report,
            "version": report.version,
            "service": report.service,
        }))
        .unwrap_or_default(),
    );
    *dashboard
        .health
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), Arc::clone(&json)));
    json
}

/// The headers of every dashboard response, errors included.
fn secure(mut response: Response<MonitoringBody>) -> Response<MonitoringBody> {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    response
}

/// `.../dashboard/` → `.../dashboard`, where the page's relative links resolve.
pub(crate) fn redirect_to_page() -> Response<MonitoringBody> {
    let mut response = response::bytes(StatusCode::PERMANENT_REDIRECT, "text/plain", Vec::new());
    response.headers_mut().insert(
        http::header::LOCATION,
        HeaderValue::from_static("../dashboard"),
    );
    secure(response)
}
