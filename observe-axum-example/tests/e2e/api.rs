//! The whole API, on SQLite and on PostgreSQL with Redis.

use serde_json::{Value, json};

use crate::{PgDatabase, TestServer, services};

/// Exercises every route of the API against `server`.
async fn the_whole_api(server: &TestServer) {
    let (status, created) = server
        .post_json(
            "/api/expenses",
            &json!({"description": "  Coffee with Ada ", "amount_cents": 350, "category": "food", "date": "2026-11-01"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().expect("an id");
    assert_eq!(created["description"], "Coffee with Ada");
    assert_eq!(created["amount_cents"], 350);
    assert_eq!(created["date"], "2026-11-01");

    let (status, today) = server
        .post_json(
            "/api/expenses",
            &json!({"description": "train", "amount_cents": 1_200}),
        )
        .await;
    assert_eq!(status, 201, "{today}");
    assert_eq!(today["category"], Value::Null);
    assert_eq!(
        today["date"].as_str().map(str::len),
        Some(10),
        "the default date is today"
    );
    for day in 2..=9 {
        let body = json!({"description": format!("day {day}"), "amount_cents": day, "date": format!("2026-10-0{day}")});
        assert_eq!(server.post_json("/api/expenses", &body).await.0, 201);
    }

    let (status, one) = server.get(&format!("/api/expenses/{id}")).await;
    assert_eq!((status, one), (200, created.clone()));
    let (status, missing) = server.get("/api/expenses/999999").await;
    assert_eq!(status, 404);
    assert_eq!(missing["status"], 404);

    let (status, page) = server.get("/api/expenses").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            page["total"].clone(),
            page["limit"].clone(),
            page["offset"].clone()
        ),
        (json!(10), json!(100), json!(0))
    );
    let (_, october) = server
        .get("/api/expenses?from=2026-10-01&to=2026-10-31&limit=3&offset=2")
        .await;
    assert_eq!(
        october["total"], 8,
        "total counts every match, not the page"
    );
    let days: Vec<&str> = october["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["date"].as_str())
        .collect();
    assert_eq!(
        days,
        ["2026-10-07", "2026-10-06", "2026-10-05"],
        "newest first, after the offset"
    );
    let (_, from_nov) = server.get("/api/expenses?from=2026-11-01").await;
    assert!(from_nov["total"].as_i64().is_some_and(|n| n >= 1));

    let (status, first) = server
        .get("/api/categories/suggest?text=Espresso%20at%20the%20cafe")
        .await;
    assert_eq!(
        (status, first),
        (200, json!({"category": "food", "cached": false}))
    );
    let (_, second) = server
        .get("/api/categories/suggest?text=espresso%20at%20the%20cafe")
        .await;
    assert_eq!(second, json!({"category": "food", "cached": true}));
    let (_, other) = server.get("/api/categories/suggest?text=a%20hat").await;
    assert_eq!(other["category"], "other");

    let (_, operations) = server.get("/monitoring/metrics").await;
    for name in [
        "create_expense",
        "get_expenses",
        "get_expenses_by_date_range",
        "get_expense",
        "suggest_category",
        "category_lookup",
        "cache_get",
        "cache_set",
        "db_query",
        "db_insert",
    ] {
        assert!(
            operations[name]["count"].as_u64().is_some_and(|n| n > 0),
            "operation {name}: {operations}"
        );
    }
    assert_eq!(operations["create_expense"]["error_count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_sqlite() {
    let server = TestServer::sqlite().await;
    the_whole_api(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_postgres_and_redis() {
    let Some(pg) = services::postgres("the_api_on_postgres_and_redis").await else {
        return;
    };
    let Some(redis) = services::redis("the_api_on_postgres_and_redis").await else {
        return;
    };
    // Each run caches under new texts: flush what a previous run left.
    let client = redis::Client::open(redis.url.as_str()).expect("a Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("category:*")
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }
    let database = PgDatabase::create(&pg.url).await;
    let url = database.url.clone();
    let server = TestServer::postgres(database, &url, Some(redis.url.clone())).await;
    the_whole_api(&server).await;
    let (status, health) = server.get("/monitoring/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["checks"]["redis"]["status"], "healthy", "{health}");
    assert_eq!(
        health["checks"]["database"]["status"], "healthy",
        "{health}"
    );
    server.stop().await;
}
