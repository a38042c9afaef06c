//! The real binary: a bad setting exits 2 naming it; SIGTERM drains (readiness 503,
//! requests still served), lets a request in flight complete, and exits 0; the
//! `healthcheck` subcommand.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BINARY: &str = env!("CARGO_BIN_EXE_observe-axum-example");

fn spawn(dir: &std::path::Path, drain_seconds: u64) -> (Child, String) {
    let drain = drain_seconds.to_string();
    let env = [
        ("OBSERVE_DRAIN_SECONDS", drain.as_str()),
        ("OBSERVE_LOG_FORMAT", "json"),
    ];
    spawn_with(dir, &env, Stdio::null())
}

/// Starts the real binary on an ephemeral port, on SQLite in `dir`, with `env` set and its
/// logs to `stderr`; returns it and its address, read from its listening line.
pub(crate) fn spawn_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (Child, String) {
    let mut child = Command::new(BINARY)
        .args(["--addr", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("expenses.db").display()),
        )
        .envs(env.iter().copied())
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the listening line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, addr)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

async fn get_status(addr: &str, path: &str) -> u16 {
    reqwest::get(format!("http://{addr}{path}"))
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_finishes_in_flight_work_and_exits_zero() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut child, addr) = spawn(dir.path(), 2);
    assert_eq!(get_status(&addr, "/monitoring/ready").await, 200);

    // A request in flight: headers and half the body sent before SIGTERM.
    let body = br#"{"description": "in flight", "amount_cents": 42}"#;
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/expenses HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    stream
        .write_all(&body[..10])
        .await
        .expect("send half the body");
    tokio::time::sleep(Duration::from_millis(200)).await;

    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get_status(&addr, "/monitoring/ready").await,
        503,
        "readiness is off at once"
    );
    assert_eq!(
        get_status(&addr, "/monitoring/live").await,
        200,
        "still alive while draining"
    );
    assert_eq!(
        get_status(&addr, "/api/expenses").await,
        200,
        "still serving while draining"
    );

    stream.write_all(&body[10..]).await.expect("send the rest");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("the answer");
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the request in flight completed: {answer}"
    );

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joined")
        .expect("exit status");
    assert_eq!(status.code(), Some(0), "exits 0 after the drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_subcommand_exits_0_or_1() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut child, addr) = spawn(dir.path(), 0);
    let check = |url: String| {
        Command::new(BINARY)
            .args(["healthcheck", "--url", &url])
            .status()
            .expect("the subcommand runs")
            .code()
    };
    assert_eq!(check(format!("http://{addr}/monitoring/live")), Some(0));
    assert_eq!(check(format!("http://{addr}/monitoring/nope")), Some(1));
    sigterm(&child);
    let _ = child.wait();
    assert_eq!(
        check(format!("http://{addr}/monitoring/live")),
        Some(1),
        "nothing listens any more"
    );
    assert_eq!(check("ftp://nowhere".to_owned()), Some(1));
}

#[test]
fn a_bad_setting_exits_2_naming_it() {
    for (var, value, named) in [
        ("OBSERVE_ADDR", "not-an-address", "--addr"),
        ("DATABASE_URL", "mysql://localhost/x", "--database-url"),
        ("OBSERVE_NAMESPACE", "9lives", "--namespace"),
        ("OBSERVE_DRAIN_SECONDS", "soon", "--drain-seconds"),
        ("REDIS_URL", "http://not-redis", "--redis-url"),
    ] {
        let output = Command::new(BINARY)
            .env(var, value)
            .output()
            .expect("the binary runs");
        assert_eq!(output.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{var}: {stderr}");
    }
}
