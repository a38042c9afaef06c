//! Every bad input gets its status and a JSON error, and stores nothing.

use serde_json::json;

use crate::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_their_status_and_change_nothing() {
    let server = TestServer::sqlite().await;
    assert_eq!(
        server
            .post_json(
                "/api/expenses",
                &json!({"description": "seed", "amount_cents": 1})
            )
            .await
            .0,
        201
    );
    let before = server.rows().await;

    let long = "x".repeat(501);
    let cases: Vec<(&str, String, &str, u16, &str)> = vec![
        (
            "malformed JSON",
            "{\"description\": ".into(),
            "application/json",
            400,
            "",
        ),
        (
            "not JSON at all",
            "hello".into(),
            "application/json",
            400,
            "",
        ),
        (
            "wrong content type",
            json!({"description": "a", "amount_cents": 1}).to_string(),
            "text/plain",
            415,
            "",
        ),
        (
            "no content type",
            json!({"description": "a", "amount_cents": 1}).to_string(),
            "",
            415,
            "",
        ),
        (
            "empty description",
            json!({"description": "  ", "amount_cents": 1}).to_string(),
            "application/json",
            422,
            "description",
        ),
        (
            "long description",
            json!({"description": long, "amount_cents": 1}).to_string(),
            "application/json",
            422,
            "description",
        ),
        (
            "zero amount",
            json!({"description": "a", "amount_cents": 0}).to_string(),
            "application/json",
            422,
            "amount_cents",
        ),
        (
            "negative amount",
            json!({"description": "a", "amount_cents": -5}).to_string(),
            "application/json",
            422,
            "amount_cents",
        ),
        (
            "amount as text",
            json!({"description": "a", "amount_cents": "5"}).to_string(),
            "application/json",
            422,
            "amount_cents",
        ),
        (
            "fractional amount",
            json!({"description": "a", "amount_cents": 1.5}).to_string(),
            "application/json",
            422,
            "amount_cents",
        ),
        (
            "missing amount",
            json!({"description": "a"}).to_string(),
            "application/json",
            422,
            "amount_cents",
        ),
        (
            "bad date",
            json!({"description": "a", "amount_cents": 1, "date": "2026-13-01"}).to_string(),
            "application/json",
            422,
            "date",
        ),
        (
            "date as text",
            json!({"description": "a", "amount_cents": 1, "date": "yesterday"}).to_string(),
            "application/json",
            422,
            "date",
        ),
        (
            "unknown field",
            json!({"description": "a", "amount_cents": 1, "admin": true}).to_string(),
            "application/json",
            422,
            "admin",
        ),
        (
            "over 64 KiB",
            json!({"description": "a", "amount_cents": 1, "pad": "x".repeat(70_000)}).to_string(),
            "application/json",
            413,
            "",
        ),
    ];
    for (what, body, content_type, status, field) in cases {
        let mut request = server.client.post(server.url("/api/expenses")).body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("an answer");
        assert_eq!(response.status().as_u16(), status, "{what}");
        let error: serde_json::Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        assert_eq!(error["status"], status, "{what}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "{what}: the error names {field:?}: {message}"
        );
    }
    assert_eq!(server.rows().await, before, "nothing was stored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_and_methods_get_their_status() {
    let server = TestServer::sqlite().await;
    for (path, status) in [
        ("/api/expenses?from=2026-02-30", 400),
        ("/api/expenses?to=tomorrow", 400),
        ("/api/expenses?from=2026-03-01&to=2026-02-01", 400),
        ("/api/expenses?limit=0", 400),
        ("/api/expenses?limit=1001", 400),
        ("/api/expenses?limit=ten", 400),
        ("/api/expenses?offset=-1", 400),
        ("/api/expenses?limit=1000&offset=0", 200),
        ("/api/expenses/abc", 400),
        ("/api/expenses/-3", 400),
        ("/api/expenses/99999999999999999999", 400),
        ("/api/expenses/42", 404),
        ("/api/categories/suggest", 400),
        ("/api/categories/suggest?text=", 400),
        ("/api/nope", 404),
    ] {
        let (got, body) = server.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        if status != 200 {
            assert_eq!(body["status"], status, "{path}: {body}");
        }
    }
    let long = format!("/api/categories/suggest?text={}", "a".repeat(1_001));
    assert_eq!(server.get(&long).await.0, 400);

    let response = server
        .client
        .delete(server.url("/api/expenses"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers().contains_key("allow"));
    let response = server
        .client
        .put(server.url("/monitoring/health"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    server.stop().await;
}
