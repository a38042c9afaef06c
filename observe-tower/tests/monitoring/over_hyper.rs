//! The same service over a real hyper server on an ephemeral port, and nested in axum.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use observe_core::MetricsCollector;
use observe_tower::MonitoringService;
use tokio::net::TcpListener;

async fn serve_hyper(service: MonitoringService) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn fetch(method: Method, url: String) -> (StatusCode, String, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Empty::new())
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("answered in time")
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, content_type, body)
}

fn service() -> MonitoringService {
    let collector = MetricsCollector::new();
    collector.record_operation("db_query", Duration::from_millis(3), false);
    MonitoringService::builder(&collector)
        .reset_token(super::TOKEN)
        .build()
}

#[tokio::test]
async fn every_endpoint_answers_over_a_real_hyper_server() {
    let addr = serve_hyper(service()).await;
    let cases = [
        (Method::GET, "/health", StatusCode::OK, "application/json"),
        (Method::GET, "/ready", StatusCode::OK, "application/json"),
        (Method::GET, "/live", StatusCode::OK, "application/json"),
        (Method::GET, "/metrics", StatusCode::OK, "application/json"),
        (Method::GET, "/system", StatusCode::OK, "application/json"),
        (
            Method::GET,
            "/operation?name=db_query",
            StatusCode::OK,
            "application/json",
        ),
        (
            Method::GET,
            "/operation",
            StatusCode::BAD_REQUEST,
            "application/json",
        ),
        (
            Method::POST,
            "/reset",
            StatusCode::UNAUTHORIZED,
            "application/json",
        ),
        (
            Method::GET,
            "/prometheus",
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        (
            Method::GET,
            "/missing",
            StatusCode::NOT_FOUND,
            "application/json",
        ),
        (
            Method::PATCH,
            "/metrics",
            StatusCode::METHOD_NOT_ALLOWED,
            "application/json",
        ),
    ];
    for (method, path, status, content_type) in cases {
        let (got, got_type, body) = fetch(method.clone(), format!("http://{addr}{path}")).await;
        assert_eq!(
            (got, got_type.as_str()),
            (status, content_type),
            "{method} {path}"
        );
        assert!(!body.is_empty(), "{method} {path}");
    }
    let (status, _, body) = fetch(Method::HEAD, format!("http://{addr}/metrics")).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn nested_in_axum_it_answers_relative_to_its_mount_point() {
    let app = Router::new().nest_service("/monitoring", service());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (status, _, body) = fetch(
        Method::GET,
        format!("http://{addr}/monitoring/operation?name=db_query"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["name"], "db_query");
    let (status, _, _) = fetch(Method::GET, format!("http://{addr}/monitoring/ready")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = fetch(Method::GET, format!("http://{addr}/ready")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only under the mount point");
}
