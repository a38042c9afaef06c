//! The reference server's API (`observe-axum-example` as `main` builds it) on an SQLite file:
//! JSON bodies of `POST /api/expenses` (any bytes, any `Content-Type`), and the paths
//! and query strings of the other routes.
//!
//! A caller's mistake is a 4xx with a JSON `{"error", "status"}` and stores nothing;
//! nothing a caller sends is a 5xx or a panic; a 201 stores exactly the expense the body
//! described (the description trimmed). Input: requests in the text form of
//! `observe_fuzz::request`, separated by `---` lines.

#![no_main]

use std::sync::OnceLock;

use axum::Router;
use clap::Parser;
use http::{Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use observe_axum_example::Config;
use observe_axum_example::db::Db;
use observe_fuzz::reply::Reply;
use serde_json::Value;
use tower::ServiceExt;

struct State {
    router: Router,
    db: Db,
    _dir: tempfile::TempDir,
}

/// The reference server as `main` builds it (every layer, the monitoring routes), on an
/// SQLite file of its own, never bound to a socket.
fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        observe_fuzz::runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
            let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
            let config = Config::try_parse_from(["observe-axum-example", "--database-url", &url])
                .unwrap_or_else(|e| panic!("{e}"));
            let app = observe_axum_example::build(&config)
                .await
                .unwrap_or_else(|e| panic!("the server: {e}"));
            State {
                router: app.router,
                db: app.db,
                _dir: dir,
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let state = state();
    let requests = observe_fuzz::request::parse_all(data);
    if requests.len() > 16 {
        return;
    }
    observe_fuzz::runtime().block_on(async {
        for request in requests {
            check(state, request).await;
        }
    });
});

async fn check(state: &State, request: http::Request<bytes::Bytes>) {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let sent: Option<Value> = serde_json::from_slice(request.body()).ok();
    let rows = state
        .db
        .count()
        .await
        .unwrap_or_else(|e| panic!("count: {e}"));
    let response = state
        .router
        .clone()
        .oneshot(request.map(axum::body::Body::from))
        .await
        .unwrap_or_else(|e| match e {});
    let reply = Reply::read(response).await;
    let status = reply.status;
    let after = state
        .db
        .count()
        .await
        .unwrap_or_else(|e| panic!("count: {e}"));
    let allowed = [
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::BAD_REQUEST,
        StatusCode::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::UNPROCESSABLE_ENTITY,
    ];
    // The monitoring routes have answers of their own (fuzzed by the monitoring target).
    let monitoring = path.starts_with("/monitoring");
    assert!(
        allowed.contains(&status) || (monitoring && status != StatusCode::INTERNAL_SERVER_ERROR),
        "{method} {path:?}: {status} {reply:?}"
    );
    if status.is_client_error() || status.is_server_error() {
        reply.assert_clear_error(&method);
    }
    if status == StatusCode::CREATED {
        assert_eq!(after, rows + 1, "a 201 stores one expense");
        let stored = reply.json();
        let sent = sent.unwrap_or_else(|| panic!("201 for a body that is not JSON"));
        let description = sent["description"].as_str().map(str::trim);
        assert_eq!(
            stored["description"].as_str(),
            description,
            "{stored} for {sent}"
        );
        assert_eq!(
            stored["amount_cents"], sent["amount_cents"],
            "{stored} for {sent}"
        );
        assert!(stored["id"].as_i64().is_some_and(|id| id > 0));
    } else {
        assert_eq!(
            after, rows,
            "{method} {path:?} answered {status} and changed the store"
        );
    }
    if status == StatusCode::OK && method == Method::GET && path.starts_with("/api/") {
        let json = reply.json();
        if path == "/api/expenses" {
            let items = json["items"].as_array().map_or(0, Vec::len) as i64;
            assert!(items <= json["limit"].as_i64().unwrap_or(-1), "{json}");
        }
    }
}
