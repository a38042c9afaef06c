//! The real binary's logs: colours only at a terminal, one JSON object per line, and a
//! log filter that quiets the logs without starving the metrics.

use std::process::{Child, Command, Stdio};

/// Starts the binary on SQLite with its logs going to a file (not a terminal).
fn spawn(dir: &std::path::Path, format: &str, filter: &str) -> (Child, String, std::path::PathBuf) {
    let log = dir.join("server.log");
    let file = std::fs::File::create(&log).expect("a log file");
    let env = [
        ("OBSERVE_LOG_FORMAT", format),
        ("RUST_LOG", filter),
        ("OBSERVE_DRAIN_SECONDS", "0"),
    ];
    let (child, addr) = super::shutdown::spawn_with(dir, &env, Stdio::from(file));
    (child, addr, log)
}

/// The trace of the POST that [`traffic`] sends.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Stores one expense (in a caller's trace) and reads the Prometheus text.
async fn traffic(addr: &str) -> String {
    let client = reqwest::Client::new();
    let created = client
        .post(format!("http://{addr}/api/expenses"))
        .header("traceparent", TRACEPARENT)
        .json(&serde_json::json!({"description": "lunch", "amount_cents": 1250}))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(created.status().as_u16(), 201);
    let listed = client
        .get(format!("http://{addr}/api/expenses"))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(listed.status().as_u16(), 200);
    client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("the metrics answer")
        .text()
        .await
        .expect("a body")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (child, addr, log) = spawn(dir.path(), "pretty", "info");
    let _ = traffic(&addr).await;
    stop(child);
    let text = std::fs::read_to_string(&log).expect("the log");
    assert!(text.contains("request"), "the request log is there: {text}");
    assert!(!text.contains('\u{1b}'), "escape codes in a file: {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_request_log_is_one_object_per_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (child, addr, log) = spawn(dir.path(), "json", "info");
    let _ = traffic(&addr).await;
    stop(child);
    let text = std::fs::read_to_string(&log).expect("the log");
    let requests: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|v: &serde_json::Value| v["message"] == "request")
        .collect();
    let created = requests
        .iter()
        .find(|v| v["route"] == "/api/expenses" && v["method"] == "POST")
        .unwrap_or_else(|| panic!("no request line for the POST: {text}"));
    assert_eq!(created["status"], 201);
    assert_eq!(created["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let listed = requests
        .iter()
        .find(|v| v["route"] == "/api/expenses" && v["method"] == "GET")
        .unwrap_or_else(|| panic!("no request line for the GET: {text}"));
    assert!(
        listed.get("trace_id").is_none(),
        "no traceparent, no trace id: {listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_warn_quiets_the_logs_but_keeps_the_operations() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (child, addr, log) = spawn(dir.path(), "json", "warn");
    let metrics = traffic(&addr).await;
    stop(child);
    let text = std::fs::read_to_string(&log).expect("the log");
    assert!(
        !text.contains("\"request\""),
        "INFO request lines at warn: {text}"
    );
    // `db_insert` comes from the `#[instrument]` span of the store, an INFO span.
    assert!(
        metrics.contains("observe_operations_total{operation=\"db_insert\"} 1"),
        "{metrics}"
    );
}
