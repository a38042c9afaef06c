//! `/health`, `/ready` and `/live`.

use std::collections::BTreeMap;

use http::header::ACCEPT;
use http::{HeaderMap, Response, StatusCode};
use observe_core::health::{CheckReport, HealthReport, HealthStatus, ReportOptions};
use observe_core::human_duration;
use serde_json::{Map, Value, json};

use super::auth::bearer_matches;
use super::query::Query;
use super::response::{self, HEALTH_JSON, MonitoringBody};
use super::service::{DetailsPolicy, Shared};

/// `?detailed`, `?verbose` and `?exclude=NAME` (repeatable), or a 400 naming the bad one.
struct HealthQuery {
    options: ReportOptions,
    verbose: bool,
}

impl HealthQuery {
    /// The parsed query, or the message of a 400.
    fn parse(query: &Query) -> Result<Self, String> {
        let detailed = query.flag("detailed")?;
        let verbose = query.flag("verbose")?;
        let mut options = ReportOptions::new().detailed(detailed);
        for name in query.all("exclude") {
            if name.is_empty() {
                return Err("`exclude` needs a check name: ?exclude=NAME".to_owned());
            }
            options = options.exclude(name);
        }
        Ok(Self { options, verbose })
    }
}

fn status_code(serving: bool) -> StatusCode {
    if serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// `GET /health`: the report, as our JSON or as `application/health+json`.
pub(crate) async fn health(
    shared: &Shared,
    headers: &HeaderMap,
    query: &Query,
) -> Response<MonitoringBody> {
    let q = match HealthQuery::parse(query) {
        Ok(q) => q,
        Err(message) => return response::error(StatusCode::BAD_REQUEST, &message),
    };
    let show_details = match shared.details {
        DetailsPolicy::Always => true,
        DetailsPolicy::Never => false,
        DetailsPolicy::WithToken => shared
            .token
            .as_deref()
            .is_some_and(|token| bearer_matches(headers, token)),
    };
    let health_json = wants_health_json(headers);
    let report = shared.health.report(&q.options).await;
    let report = if show_details {
        report
    } else {
        report.without_details()
    };
    let status = status_code(report.is_serving());
    if health_json {
        response::json_as(status, HEALTH_JSON, &ietf(&report))
    } else {
        response::json(status, &report)
    }
}

fn wants_health_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(HEALTH_JSON))
        })
}

/// The IETF draft "Health Check Response Format for HTTP APIs": `pass`, `warn`, `fail`.
fn ietf_status(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Healthy => "pass",
        HealthStatus::Degraded => "warn",
        HealthStatus::Unhealthy => "fail",
    }
}

fn ietf(report: &HealthReport) -> Value {
    let time = |check: &CheckReport| {
        serde_json::to_value(&check.result)
            .ok()
            .and_then(|v| v.get("checked_at").cloned())
            .unwrap_or(Value::Null)
    };
    let mut checks = Map::new();
    for (name, check) in &report.checks {
        let mut entry = Map::new();
        entry.insert("componentId".into(), json!(name));
        entry.insert("componentType".into(), json!(check.component_type));
        entry.insert(
            "observedValue".into(),
            json!(check.result.duration.as_secs_f64() * 1000.0),
        );
        entry.insert("observedUnit".into(), json!("ms"));
        entry.insert("status".into(), json!(ietf_status(check.result.status)));
        entry.insert("time".into(), time(check));
        if let Some(error) = &check.result.error {
            entry.insert("output".into(), json!(error));
        }
        if !check.result.details.is_empty() {
            entry.insert(
                "details".into(),
                Value::Object(check.result.details.clone()),
            );
        }
        checks.insert(format!("{name}:responseTime"), json!([entry]));
    }
    checks.insert(
        "uptime".into(),
        json!([{
            "componentType": "system",
            "observedValue": report.uptime.as_secs_f64(),
            "observedUnit": "s",
            "status": "pass",
            "time": serde_json::to_value(report).ok().and_then(|v| v.get("timestamp").cloned()),
        }]),
    );
    let mut body = Map::new();
    body.insert("status".into(), json!(ietf_status(report.status)));
    body.insert("version".into(), json!(report.version));
    body.insert("serviceId".into(), json!(report.service));
    body.insert(
        "description".into(),
        json!(format!("health of {}", report.service)),
    );
    let failing: Vec<&str> = report.failing().collect();
    if !failing.is_empty() {
        body.insert(
            "output".into(),
            json!(format!("failing: {}", failing.join(", "))),
        );
    }
    body.insert("checks".into(), Value::Object(checks));
    Value::Object(body)
}

/// `GET /ready`: the checks tagged `ready`, and the draining switch.
pub(crate) async fn ready(shared: &Shared, query: &Query) -> Response<MonitoringBody> {
    let q = match HealthQuery::parse(query) {
        Ok(q) => q,
        Err(message) => return response::error(StatusCode::BAD_REQUEST, &message),
    };
    if shared.readiness.is_draining() {
        return response::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "not_ready", "failing": [], "reason": "draining" }),
        );
    }
    let readiness = shared.health.readiness(&q.options).await;
    shared.readiness.observe(readiness.ready);
    let mut body = Map::new();
    if readiness.ready {
        body.insert("status".into(), json!("ready"));
    } else {
        body.insert("status".into(), json!("not_ready"));
        body.insert(
            "failing".into(),
            json!(readiness.failing().collect::<Vec<_>>()),
        );
    }
    if q.verbose {
        let checks: BTreeMap<&str, HealthStatus> = readiness
            .checks
            .iter()
            .map(|(name, c)| (name.as_str(), c.result.status))
            .collect();
        body.insert("checks".into(), json!(checks));
    }
    response::json(status_code(readiness.ready), &Value::Object(body))
}

/// `GET /live`: alive while the process serves; with a limit, not alive once readiness
/// has failed for longer.
pub(crate) async fn live(shared: &Shared) -> Response<MonitoringBody> {
    let uptime = shared.health.uptime();
    let mut body = Map::new();
    if let Some(limit) = shared.liveness_limit
        && !shared.readiness.is_draining()
    {
        let readiness = shared.health.readiness(&ReportOptions::new()).await;
        let failing_for = shared.readiness.observe(readiness.ready);
        if failing_for > limit {
            body.insert("status".into(), json!("not_alive"));
            body.insert(
                "error".into(),
                json!(format!(
                    "readiness has failed for {}, longer than the limit of {}",
                    human_duration(failing_for),
                    human_duration(limit)
                )),
            );
            body.insert(
                "failing".into(),
                json!(readiness.failing().collect::<Vec<_>>()),
            );
            return response::json(StatusCode::SERVICE_UNAVAILABLE, &Value::Object(body));
        }
    }
    body.insert("status".into(), json!("alive"));
    body.insert(
        "uptime".into(),
        json!(human_duration(std::time::Duration::from_secs(
            uptime.as_secs()
        ))),
    );
    body.insert("uptime_seconds".into(), json!(uptime.as_secs_f64()));
    response::json(StatusCode::OK, &Value::Object(body))
}
