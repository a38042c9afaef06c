//! Streaming bodies: the duration covers the whole body.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use observe_core::MetricsCollector;
use observe_tower::HttpMetricsLayer;
use tower::ServiceExt;

fn streaming_app(collector: &MetricsCollector) -> Router {
    Router::new()
        .route(
            "/stream",
            get(|| async {
                let chunks = futures_stream();
                Body::from_stream(chunks)
            }),
        )
        .layer(HttpMetricsLayer::new(collector))
}

/// Three chunks, 50 ms apart.
fn futures_stream() -> impl futures_core::Stream<Item = Result<Bytes, Infallible>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for chunk in ["one ", "two ", "three"] {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, Infallible>>,
) -> impl futures_core::Stream<Item = Result<Bytes, Infallible>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn the_recorded_duration_covers_the_whole_streamed_body() {
    let collector = MetricsCollector::new();
    let response = streaming_app(&collector)
        .oneshot(
            Request::get("/stream")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(
        collector.get("GET /stream").map(|op| op.count),
        Some(0),
        "not before the body ends"
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"one two three");
    let op = collector.get("GET /stream").expect("recorded");
    assert_eq!((op.count, op.cancelled_count), (1, 0));
    assert!(
        op.max >= Duration::from_millis(150),
        "duration {:?}",
        op.max
    );
    assert_eq!(
        super::series(
            &collector,
            r#"observe_http_response_size_bytes_sum{method="GET",route="/stream"}"#
        ),
        Some(13.0)
    );
}

#[tokio::test]
async fn a_stream_abandoned_midway_is_cancelled_with_its_status() {
    let collector = MetricsCollector::new();
    let response = streaming_app(&collector)
        .oneshot(
            Request::get("/stream")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let mut body = response.into_body();
    let first = body.frame().await.expect("a frame").expect("no error");
    assert_eq!(first.into_data().ok().as_deref(), Some(&b"one "[..]));
    drop(body);
    let op = collector.get("GET /stream").expect("recorded");
    assert_eq!((op.count, op.cancelled_count), (1, 1));
    assert_eq!(
        super::series(
            &collector,
            r#"observe_http_requests_total{method="GET",route="/stream",status="200"}"#
        ),
        Some(1.0)
    );
}
