//! Redis and the database cut and restored through the test proxy: the API keeps
//! answering what it can, health and readiness say what is wrong, everything recovers
//! without a restart, and no acknowledged write is lost.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::proxy::Proxy;
use crate::{PgDatabase, TestServer, eventually, services};

async fn status_of(server: &TestServer, path: &str) -> u16 {
    server.get(path).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_the_database_go_away_and_come_back() {
    let test = "redis_and_the_database_go_away_and_come_back";
    let Some(pg) = services::postgres(test).await else {
        return;
    };
    let Some(redis) = services::redis(test).await else {
        return;
    };
    let database = PgDatabase::create(&pg.url).await;
    let pg_proxy = Proxy::start(pg.addr).await;
    let redis_proxy = Proxy::start(redis.addr).await;
    let db_url = pg_proxy.url_for(&database.url);
    let server =
        TestServer::postgres(database, &db_url, Some(redis_proxy.url_for(&redis.url))).await;

    let mut acknowledged = Vec::new();
    let write = |server: &TestServer, i: u32| {
        let body = json!({"description": format!("write {i}"), "amount_cents": 100 + i});
        let request = server
            .client
            .post(server.url("/api/expenses"))
            .json(&body)
            .send();
        async move {
            let response = request.await.expect("an answer");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.expect("JSON");
            (status, body)
        }
    };
    for i in 0..3 {
        let (status, body) = write(&server, i).await;
        assert_eq!(status, 201);
        acknowledged.push(body["id"].as_i64().expect("an id"));
    }

    // Redis goes away: the API keeps answering (cache misses), health is degraded with
    // 200, readiness stays 200.
    redis_proxy.cut();
    let (status, suggestion) = server
        .get("/api/categories/suggest?text=bus%20ticket")
        .await;
    assert_eq!((status, suggestion["cached"].clone()), (200, json!(false)));
    eventually(
        "health degraded by Redis",
        Duration::from_secs(10),
        || async {
            let (status, health) = server.get("/monitoring/health").await;
            status == 200
                && health["status"] == "degraded"
                && health["checks"]["redis"]["status"] == "unhealthy"
        },
    )
    .await;
    assert_eq!(status_of(&server, "/monitoring/ready").await, 200);
    assert_eq!(
        server
            .get("/api/categories/suggest?text=bus%20ticket")
            .await
            .0,
        200
    );
    redis_proxy.restore();
    eventually("Redis healthy again", Duration::from_secs(15), || async {
        server.get("/monitoring/health").await.1["checks"]["redis"]["status"] == "healthy"
    })
    .await;
    eventually(
        "the cache serves again",
        Duration::from_secs(10),
        || async {
            server
                .get("/api/categories/suggest?text=bus%20ticket")
                .await
                .1["cached"]
                == true
        },
    )
    .await;

    // The database goes away: its routes answer 503 JSON quickly, health and readiness
    // 503, liveness 200.
    pg_proxy.cut();
    let started = Instant::now();
    let (status, error) = write(&server, 99).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["status"], 503);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered in {:?}",
        started.elapsed()
    );
    let (status, _) = server
        .get(&format!("/api/expenses/{}", acknowledged[0]))
        .await;
    assert_eq!(status, 503);
    eventually(
        "health and readiness 503",
        Duration::from_secs(15),
        || async {
            status_of(&server, "/monitoring/health").await == 503
                && status_of(&server, "/monitoring/ready").await == 503
        },
    )
    .await;
    assert_eq!(status_of(&server, "/monitoring/live").await, 200);
    let (_, ready) = server.get("/monitoring/ready").await;
    assert_eq!(ready["failing"], json!(["database"]));

    // A stall: requests still end, with 503, bounded by the database timeout.
    pg_proxy.restore();
    eventually(
        "ready again after the cut",
        Duration::from_secs(20),
        || async { status_of(&server, "/monitoring/ready").await == 200 },
    )
    .await;
    pg_proxy.stall();
    let started = Instant::now();
    let (status, _) = write(&server, 98).await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a stalled database answered in {:?}",
        started.elapsed()
    );

    pg_proxy.restore();
    eventually(
        "everything recovers without a restart",
        Duration::from_secs(30),
        || async {
            status_of(&server, "/monitoring/ready").await == 200
                && status_of(&server, "/monitoring/health").await == 200
        },
    )
    .await;
    let (status, body) = write(&server, 3).await;
    assert_eq!(status, 201, "{body}");
    acknowledged.push(body["id"].as_i64().expect("an id"));
    for id in &acknowledged {
        assert_eq!(
            server.get(&format!("/api/expenses/{id}")).await.0,
            200,
            "acknowledged write {id} is there"
        );
    }
    server.stop().await;
}
