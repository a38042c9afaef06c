//! Hostile requests cost bounded memory: oversized ones are refused before any handler
//! runs, and what outsiders control (paths, query strings, names looked up) creates no
//! operation and no series.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::TestServer;

/// The status line of the answer to `request`, sent raw (a client library would refuse
/// to send some of these). The answer is read while the request is still being written:
/// the server answers as soon as it has read too much, and closes.
async fn raw_status(server: &TestServer, request: Vec<u8>) -> String {
    let addr = server.base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("a connection");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The server may close before it has read all of an oversized request.
        let _ = write.write_all(&request).await;
        write
    });
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    drop(writer.await);
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// How many operations the collector holds, from `/monitoring/system`.
async fn operations(server: &TestServer) -> u64 {
    let (status, system) = server.get("/monitoring/system").await;
    assert_eq!(status, 200, "{system}");
    system["summary"]["monitored_operations"]
        .as_u64()
        .unwrap_or_else(|| panic!("monitored_operations in {system}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_uris_and_headers_are_refused_before_any_handler() {
    let server = TestServer::sqlite().await;
    let _ = server.get("/api/expenses").await;
    let before = operations(&server).await;

    // hyper's limits, as `axum::serve` sets them: a URI of at most 64 KiB, at most 100
    // headers, about 400 KiB of request head.
    let long_uri = format!(
        "GET /monitoring/operation?name={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    assert!(
        raw_status(&server, long_uri.into_bytes())
            .await
            .contains(" 414 "),
        "a 70 KB URI"
    );
    let big_header = format!(
        "GET /api/expenses HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    assert!(
        raw_status(&server, big_header.into_bytes())
            .await
            .contains(" 431 "),
        "a 500 KB header"
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many_headers = format!("GET /api/expenses HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert!(
        raw_status(&server, many_headers.into_bytes())
            .await
            .contains(" 431 "),
        "150 headers"
    );
    // Just under the limits, a request is served.
    let (status, _) = server
        .get(&format!("/monitoring/live?pad={}", "b".repeat(60_000)))
        .await;
    assert_eq!(status, 200);

    assert_eq!(operations(&server).await, before, "no operation was added");
    assert_eq!(server.get("/monitoring/live").await.0, 200, "still serving");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_queries_and_looked_up_names_create_no_operation_or_series() {
    let owned = TestServer::sqlite().await;
    let server = &owned;
    // A raw path per request (the API's fallback), a route with a fresh id, a fresh
    // query string, and a name looked up that does not exist.
    let hostile = |i: u32| async move {
        assert_eq!(server.get(&format!("/api/x{i}/{i}")).await.0, 404);
        assert_eq!(
            server.get(&format!("/api/expenses/{}", 10_000 + i)).await.0,
            404
        );
        assert_eq!(
            server
                .get(&format!("/api/expenses?limit=5&junk{i}={i}"))
                .await
                .0,
            200
        );
        let (status, body): (u16, Value) = server
            .get(&format!("/monitoring/operation?name=probe_{i}"))
            .await;
        assert_eq!(status, 404, "{body}");
    };
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    let scrape = || async move {
        server
            .client
            .get(server.url("/metrics"))
            .send()
            .await
            .expect("a scrape")
            .text()
            .await
            .expect("a body")
    };
    // Each kind of request once: its route, status and operations exist from now on.
    hostile(0).await;
    let before = operations(server).await;
    let series_before = series(&scrape().await);

    for i in 1..=300 {
        hostile(i).await;
    }

    assert_eq!(operations(server).await, before, "no operation was added");
    let text = scrape().await;
    for raw in ["/api/x1/1", "/api/expenses/10001", "junk1", "probe_1"] {
        assert!(!text.contains(raw), "{raw} in the exposition");
    }
    assert_eq!(
        series(&text),
        series_before,
        "no series was added by 1,200 requests"
    );
    owned.stop().await;
}
