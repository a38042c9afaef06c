//! `docs/endpoints.md` is generated from real answers of the server, so it cannot drift:
//! this test renders it and fails when the file differs. Regenerate it with
//! `OBSERVE_UPDATE_DOCS=1 cargo test -p observe-axum-example --test e2e docs`.
//!
//! Values that change from run to run (times, durations, process figures) are replaced
//! by fixed stand-ins; everything else is what the server answered.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::TestServer;

const TOKEN: &str = "change-me";
const STANDIN_TIME: &str = "2026-01-01T00:00:00Z";

/// Keys whose values change from run to run.
fn volatile(key: &str) -> bool {
    key.ends_with("_ms")
        || key.ends_with("_seconds")
        || key.ends_with("_bytes")
        || key.ends_with("_percent")
        || key.ends_with("_duration")
        || key.ends_with("_connections")
        || matches!(
            key,
            "timestamp"
                | "checked_at"
                | "uptime"
                | "last_recorded"
                | "avg_latency"
                | "max_latency"
                | "rate_per_second"
                | "window"
                | "observedValue"
                | "time"
                | "threads"
                | "open_fds"
                | "max_fds"
                | "alive_tasks"
                | "workers"
                | "connected_clients"
                | "version"
        )
}

fn standin(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => json!(1.5),
        Value::Number(_) => json!(1),
        Value::String(s) if s.contains('T') && s.ends_with('Z') => json!(STANDIN_TIME),
        Value::String(_) => json!("1m0s"),
        other => other.clone(),
    }
}

/// Replaces every leaf of `value` by its stand-in.
fn standin_all(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(standin_all),
        Value::Array(items) => items.iter_mut().for_each(standin_all),
        leaf => *leaf = standin(leaf),
    }
}

fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if volatile(key) || key == "process" {
                    standin_all(v);
                } else {
                    normalize(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

struct Doc {
    server: TestServer,
    text: String,
}

impl Doc {
    async fn exchange(
        &mut self,
        title: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) {
        let mut request = self
            .server
            .client
            .request(method.parse().expect("a method"), self.server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = response.text().await.expect("a body");
        let t = &mut self.text;
        let _ = writeln!(t, "### {title}\n");
        let mut shown = format!("{method} /…{path}");
        shown = shown.replacen("/…", "", 1);
        for (name, value) in headers {
            let _ = write!(shown, "\n{name}: {value}");
        }
        let _ = writeln!(t, "```http\n{shown}\n```\n");
        if let Some(body) = body {
            let _ = writeln!(
                t,
                "```json\n{}\n```\n",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        let _ = write!(
            t,
            "`{} {}`, `Content-Type: {content_type}`",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        if let Some(allow) = allow {
            let _ = write!(t, ", `Allow: {allow}`");
        }
        let _ = writeln!(t, "\n");
        if let Ok(mut json) = serde_json::from_str::<Value>(&raw) {
            normalize(&mut json);
            let _ = writeln!(
                t,
                "```json\n{}\n```\n",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        } else if !raw.is_empty() {
            // The exposition: the counters of operations and requests, sorted (the order
            // of series within a family is not fixed).
            let mut excerpt: Vec<&str> = raw
                .lines()
                .filter(|l| {
                    l.contains("observe_operations_total")
                        || l.contains("observe_http_requests_total")
                })
                .collect();
            excerpt.sort_unstable();
            if raw.ends_with("# EOF\n") {
                excerpt.push("# EOF");
            }
            let _ = writeln!(t, "```text\n{}\n…\n```\n", excerpt.join("\n"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_md_is_generated_from_real_answers() {
    // Health as the warm-up run before serving saw it: no refresh changes it meanwhile.
    let server = TestServer::sqlite_with(|c| {
        c.reset_token = Some(TOKEN.to_owned());
        c.health_interval_seconds = 3_600;
    })
    .await;
    let mut doc = Doc {
        server,
        text: String::new(),
    };
    doc.text.push_str(HEADER);

    doc.text.push_str("## The API\n\n");
    let expense = json!({"description": "Coffee with Ada", "amount_cents": 350, "category": "food", "date": "2026-11-01"});
    doc.exchange(
        "Store an expense",
        "POST",
        "/api/expenses",
        &[],
        Some(expense),
    )
    .await;
    doc.exchange("One expense", "GET", "/api/expenses/1", &[], None)
        .await;
    doc.exchange(
        "List expenses",
        "GET",
        "/api/expenses?from=2026-11-01&to=2026-11-30&limit=10",
        &[],
        None,
    )
    .await;
    doc.exchange(
        "Suggest a category",
        "GET",
        "/api/categories/suggest?text=espresso",
        &[],
        None,
    )
    .await;
    doc.exchange(
        "A field out of range",
        "POST",
        "/api/expenses",
        &[],
        Some(json!({"description": "x", "amount_cents": 0})),
    )
    .await;
    doc.exchange("An unknown expense", "GET", "/api/expenses/999", &[], None)
        .await;

    doc.text.push_str("## The monitoring endpoints\n\n");
    doc.exchange("The index", "GET", "/monitoring/", &[], None)
        .await;
    doc.exchange("Health", "GET", "/monitoring/health", &[], None)
        .await;
    let bearer = format!("Bearer {TOKEN}");
    doc.exchange(
        "Health with details (the token)",
        "GET",
        "/monitoring/health?exclude=system",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    doc.exchange(
        "Health in the IETF format",
        "GET",
        "/monitoring/health?exclude=system",
        &[("Accept", "application/health+json")],
        None,
    )
    .await;
    doc.exchange(
        "A bad parameter",
        "GET",
        "/monitoring/health?detailed=maybe",
        &[],
        None,
    )
    .await;
    doc.exchange("Readiness", "GET", "/monitoring/ready", &[], None)
        .await;
    doc.exchange(
        "Readiness, verbose",
        "GET",
        "/monitoring/ready?verbose",
        &[],
        None,
    )
    .await;
    doc.exchange("Liveness", "GET", "/monitoring/live", &[], None)
        .await;
    doc.exchange("Every operation", "GET", "/monitoring/metrics", &[], None)
        .await;
    doc.exchange("The system", "GET", "/monitoring/system", &[], None)
        .await;
    doc.exchange(
        "One operation",
        "GET",
        "/monitoring/operation?name=create_expense",
        &[],
        None,
    )
    .await;
    doc.exchange(
        "No operation named",
        "GET",
        "/monitoring/operation",
        &[],
        None,
    )
    .await;
    doc.exchange(
        "An unknown operation",
        "GET",
        "/monitoring/operation?name=nope",
        &[],
        None,
    )
    .await;
    doc.exchange(
        "Reset without the token",
        "POST",
        "/monitoring/reset",
        &[],
        None,
    )
    .await;
    doc.exchange(
        "Reset",
        "POST",
        "/monitoring/reset",
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    doc.exchange(
        "The wrong method",
        "DELETE",
        "/monitoring/health",
        &[],
        None,
    )
    .await;
    doc.exchange("No such endpoint", "GET", "/monitoring/nope", &[], None)
        .await;
    doc.exchange("Prometheus text (excerpt)", "GET", "/metrics", &[], None)
        .await;
    doc.exchange(
        "OpenMetrics (excerpt)",
        "GET",
        "/monitoring/prometheus",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
        None,
    )
    .await;

    let Doc { server, text } = doc;
    server.stop().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/endpoints.md");
    if std::env::var("OBSERVE_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write docs/endpoints.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != text {
        let fresh = std::env::temp_dir().join("observe-endpoints.md");
        let _ = std::fs::write(&fresh, &text);
        panic!(
            "docs/endpoints.md is out of date (this run's version is in {}): regenerate it with \
             `OBSERVE_UPDATE_DOCS=1 cargo test -p observe-axum-example --test e2e docs`",
            fresh.display()
        );
    }
}

const HEADER: &str = "# Endpoints

<!-- Generated by observe-axum-example/tests/e2e/docs.rs from real answers of the
reference server; do not edit by hand. Regenerate with
`OBSERVE_UPDATE_DOCS=1 cargo test -p observe-axum-example --test e2e docs`. -->

Every endpoint of the reference server, with a real answer. The monitoring endpoints are
`observe-tower`'s `MonitoringService`, mounted at `/monitoring`; they answer the same
wherever you mount them. Times, durations and process figures are replaced by fixed
stand-ins (`1.5`, `2026-01-01T00:00:00Z`); everything else is what the server said.

| endpoint | answers |
| --- | --- |
| `GET /monitoring/health` | 200 healthy or degraded, 503 unhealthy; `?detailed=true` also runs checks tagged `detailed`; `?exclude=NAME`; `Accept: application/health+json` for the IETF draft format; details with the token (or as configured) |
| `GET /monitoring/ready` | 200 `{\"status\":\"ready\"}`; 503 `{\"status\":\"not_ready\",\"failing\":[...]}` when a check tagged `ready` fails or the server drains; `?verbose`, `?exclude=NAME` |
| `GET /monitoring/live` | 200 while the process serves (503 only past an opt-in limit) |
| `GET /monitoring/metrics` | every operation, keyed by name |
| `GET /monitoring/system` | the collector's summary and the process figures |
| `GET /monitoring/operation?name=X` | one operation (alias `?operation=X`); 400 without a name, 404 unknown |
| `POST /monitoring/reset` | resets the JSON views; 401 without the bearer token, 403 when no token is configured |
| `GET /monitoring/prometheus`, `GET /metrics` | by `Accept` (q-values): Prometheus text (default, `*/*`), OpenMetrics, or Prometheus protobuf (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`) with native histograms when turned on (see metrics.md, native histograms) |

Errors are JSON `{\"error\": \"...\", \"status\": N}`; a wrong method gets 405 with `Allow`;
every monitoring answer carries `Cache-Control: no-store`; `HEAD` works wherever `GET`
does.

";
