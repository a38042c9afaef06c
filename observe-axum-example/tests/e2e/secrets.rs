//! What no answer and no message of the server may carry: the password of a connection
//! URL, the reset token (configured or guessed).

use std::process::Command;

use observe_axum_example::config::{DashboardAccess, HealthDetails};

use crate::TestServer;

const BINARY: &str = env!("CARGO_BIN_EXE_observe-axum-example");
const PASSWORD: &str = "hunter2-not-shown";
const TOKEN: &str = "tok-7f3a9c1e-not-shown";
const GUESS: &str = "guess-5b2d-not-echoed";

/// A connection URL that the server refuses at start: clap would quote it whole in its
/// error, password included, and stderr ends up in logs.
#[test]
fn a_refused_connection_url_is_named_but_never_quoted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (var, value, named, code) in [
        (
            "DATABASE_URL",
            format!("mysql://admin:{PASSWORD}@db/x"),
            "--database-url",
            2,
        ),
        (
            "REDIS_URL",
            format!("http://admin:{PASSWORD}@cache"),
            "--redis-url",
            2,
        ),
        (
            "REDIS_URL",
            format!("redis://admin:{PASSWORD}@cache:port"),
            "--redis-url",
            2,
        ),
        // Accepted by the flag, refused by the driver: exit 1, the password nowhere.
        (
            "DATABASE_URL",
            format!("postgres://admin:{PASSWORD}@127.0.0.1:port/x"),
            "DATABASE_URL",
            1,
        ),
    ] {
        let output = Command::new(BINARY)
            .current_dir(dir.path())
            .env(var, &value)
            .env("OBSERVE_ADDR", "127.0.0.1:0")
            .output()
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(named),
            "{var}: the setting is named: {stderr}"
        );
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "{var}: the password was printed:\n{stdout}\n{stderr}"
        );
    }
    // `--help` lists the setting, not the token in the environment.
    let help = Command::new(BINARY)
        .arg("--help")
        .env("OBSERVE_RESET_TOKEN", TOKEN)
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("OBSERVE_RESET_TOKEN"), "{help}");
    assert!(!help.contains(TOKEN), "{help}");
}

/// `OBSERVE_DASHBOARD=auto`: open on a loopback address, behind the token on any other
/// (the test's listener is on loopback either way; the setting decides by `addr`), and
/// closed when no token is configured there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_open_on_loopback_and_guarded_elsewhere() {
    let status = |server: &TestServer, token: Option<&str>| {
        let mut request = server.client.get(server.url("/monitoring/dashboard/data"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        async move { request.send().await.expect("an answer").status().as_u16() }
    };
    let loopback = TestServer::sqlite().await;
    assert_eq!(status(&loopback, None).await, 200, "open on loopback");
    loopback.stop().await;

    let public = TestServer::sqlite_with(|config| {
        config.addr = "0.0.0.0:8080".parse().expect("an address");
        config.reset_token = Some(TOKEN.to_owned());
    })
    .await;
    assert_eq!(status(&public, None).await, 401, "guarded elsewhere");
    assert_eq!(status(&public, Some(GUESS)).await, 401);
    assert_eq!(status(&public, Some(TOKEN)).await, 200);
    public.stop().await;

    let closed = TestServer::sqlite_with(|config| {
        config.addr = "0.0.0.0:8080".parse().expect("an address");
    })
    .await;
    assert_eq!(status(&closed, None).await, 403, "no token: closed");
    closed.stop().await;
}

/// Every monitoring answer, with and without the token, and with a wrong one: neither
/// the token nor the password of the Redis URL (a Redis that is not there, so the check
/// fails and its error message passes through the redaction) appears in any body or
/// header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_carries_the_token_or_a_password() {
    // A Redis that is not there: the check fails, and its error passes through the
    // redaction to every caller with the token.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = closed.local_addr().expect("an address").port();
    drop(closed);
    let redis_url = format!("redis://default:{PASSWORD}@127.0.0.1:{port}");
    let server = TestServer::sqlite_with(|config| {
        config.reset_token = Some(TOKEN.to_owned());
        config.health_details = HealthDetails::Token;
        config.dashboard = DashboardAccess::Token;
        config.redis_url = Some(redis_url);
    })
    .await;
    let _ = server.get("/api/expenses").await;

    let paths = [
        "/monitoring",
        "/monitoring/health",
        "/monitoring/health?detailed=true",
        "/monitoring/ready?verbose",
        "/monitoring/live",
        "/monitoring/metrics",
        "/monitoring/system",
        "/monitoring/operation?name=GET%20/api/expenses",
        "/monitoring/prometheus",
        "/monitoring/dashboard",
        "/monitoring/dashboard/data",
        "/metrics",
    ];
    let bearer = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {GUESS}");
    let mut answers = 0;
    for authorization in [None, Some(bearer.as_str()), Some(wrong.as_str())] {
        for path in paths {
            for accept in [
                "*/*",
                "application/health+json",
                "application/openmetrics-text",
            ] {
                let mut request = server.client.get(server.url(path)).header("accept", accept);
                if let Some(value) = authorization {
                    request = request.header("authorization", value);
                }
                let response = request.send().await.expect("an answer");
                let headers = format!("{:?}", response.headers());
                let body = response.text().await.expect("a body");
                for secret in [PASSWORD, TOKEN, GUESS] {
                    assert!(
                        !body.contains(secret) && !headers.contains(secret),
                        "{path} ({authorization:?}, {accept}) shows {secret:?}:\n{headers}\n{body}"
                    );
                }
                answers += 1;
            }
        }
        let response = server
            .client
            .post(server.url("/monitoring/reset"))
            .header("authorization", authorization.unwrap_or("Bearer"))
            .send()
            .await
            .expect("an answer");
        let body = response.text().await.expect("a body");
        for secret in [PASSWORD, TOKEN, GUESS] {
            assert!(!body.contains(secret), "reset shows {secret:?}: {body}");
        }
    }
    assert_eq!(answers, 3 * paths.len() * 3);
    // The answers above did include the failing Redis check's error, to the token.
    let health: serde_json::Value = server
        .client
        .get(server.url("/monitoring/health"))
        .header("authorization", &bearer)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    let redis = &health["checks"]["redis"];
    assert_ne!(redis["status"], "healthy", "{health}");
    assert!(
        redis["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{health}"
    );
    server.stop().await;
}
