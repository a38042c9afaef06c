//! Every monitoring endpoint through the server, and the exposition through `promtool`.

use serde_json::json;

use crate::{TestServer, promtool};

const TOKEN: &str = "e2e-reset-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_monitoring_endpoint_answers() {
    let server = TestServer::sqlite_with(|c| c.reset_token = Some(TOKEN.to_owned())).await;
    assert_eq!(
        server
            .post_json(
                "/api/expenses",
                &json!({"description": "a", "amount_cents": 1})
            )
            .await
            .0,
        201
    );

    let (status, health) = server.get("/monitoring/health").await;
    assert_eq!(status, 200, "{health}");
    for check in ["database", "system", "error_rate", "latency", "runtime"] {
        assert!(
            health["checks"][check]["status"].is_string(),
            "check {check}: {health}"
        );
    }
    assert!(
        health["checks"].get("redis").is_none(),
        "no Redis configured"
    );
    assert!(
        health["checks"]["database"]["details"]
            .as_object()
            .is_some_and(|d| d.is_empty()),
        "details need the token"
    );
    let with_token = server
        .client
        .get(server.url("/monitoring/health"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer")
        .json::<serde_json::Value>()
        .await
        .expect("JSON");
    assert_eq!(
        with_token["checks"]["database"]["details"]["max_connections"], 5,
        "{with_token}"
    );

    assert_eq!(
        server.get("/monitoring/ready").await,
        (200, json!({"status": "ready"}))
    );
    let (status, live) = server.get("/monitoring/live").await;
    assert_eq!((status, live["status"].clone()), (200, json!("alive")));
    let (status, system) = server.get("/monitoring/system").await;
    assert_eq!(status, 200);
    assert!(
        system["summary"]["total_operations"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    let (status, op) = server
        .get("/monitoring/operation?name=create_expense")
        .await;
    assert_eq!((status, op["count"].clone()), (200, json!(1)));
    assert_eq!(
        server
            .get("/monitoring/operation?operation=create_expense")
            .await
            .0,
        200
    );
    assert_eq!(server.get("/monitoring/operation").await.0, 400);
    assert_eq!(server.get("/monitoring/operation?name=nope").await.0, 404);
    assert_eq!(server.get("/monitoring/nope").await.0, 404);

    let reset = server
        .client
        .post(server.url("/monitoring/reset"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(reset.status().as_u16(), 401);
    let reset = server
        .client
        .post(server.url("/monitoring/reset"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    assert_eq!(reset.status().as_u16(), 200);
    assert_eq!(
        server
            .get("/monitoring/operation?name=create_expense")
            .await
            .1["count"],
        0
    );

    let response = server
        .client
        .get(server.url("/monitoring/prometheus"))
        .header("accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .await
        .expect("an answer");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/openmetrics-text"))
    );
    assert!(response.text().await.expect("text").ends_with("# EOF\n"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_with_every_family() {
    let server = TestServer::sqlite().await;
    for i in 0..3 {
        let body = json!({"description": format!("e{i}"), "amount_cents": 10 + i});
        assert_eq!(server.post_json("/api/expenses", &body).await.0, 201);
    }
    assert_eq!(server.get("/api/expenses/1").await.0, 200);
    assert_eq!(server.get("/api/expenses/2000").await.0, 404);
    assert_eq!(server.get("/api/categories/suggest?text=taxi").await.0, 200);
    assert_eq!(server.get("/api/categories/suggest?text=taxi").await.0, 200);
    assert_eq!(server.get("/monitoring/health").await.0, 200);

    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = response.text().await.expect("text");
    for needle in [
        r#"observe_http_requests_total{method="GET",route="/api/expenses/{id}",status="404"} 1"#,
        r#"observe_http_requests_total{method="POST",route="/api/expenses",status="201"} 3"#,
        "# TYPE observe_http_request_duration_seconds histogram",
        "# TYPE observe_http_requests_in_flight gauge",
        "# TYPE observe_http_response_size_bytes histogram",
        r#"observe_operations_total{operation="create_expense"} 3"#,
        "# TYPE observe_operation_duration_seconds histogram",
        "# TYPE observe_health_status gauge",
        r#"observe_health_check_status{check="database"} 2"#,
        r#"observe_db_pool_max_connections{pool="database"} 5"#,
        r#"observe_db_pool_connections{pool="database",state="idle"}"#,
        "# TYPE process_resident_memory_bytes gauge",
        r#"observe_cache_requests_total{cache="categories",result="hit"} 1"#,
        r#"observe_cache_requests_total{cache="categories",result="miss"} 1"#,
        "# TYPE observe_build_info gauge",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(
        !text.contains("/api/expenses/1\""),
        "raw paths never become labels"
    );
    promtool::check(&text);
    server.stop().await;
}
