//! Inputs the fuzz targets (`fuzz/`, docs/fuzzing.md) found answered wrongly, kept as
//! tests of the real server.

use reqwest::Method;

use super::TestServer;

/// `api_json` found `DELETE /metrics` (any method but GET and HEAD) answered 405 with an
/// empty body: every error of the server is JSON `{"error", "status"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_metrics_does_not_serve_is_a_json_405() {
    let server = TestServer::sqlite().await;
    let custom = Method::from_bytes(b"GEP").expect("a method");
    for method in [Method::DELETE, Method::POST, Method::PUT, custom] {
        let response = server
            .client
            .request(method.clone(), server.url("/metrics"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "GET,HEAD", "{method}");
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        assert_eq!(body["status"], 405, "{method}: {body}");
        assert_eq!(body["error"], "method not allowed", "{method}: {body}");
    }
    // GET still serves the exposition.
    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    server.stop().await;
}
