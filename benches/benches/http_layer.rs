//! The in-process cost of `HttpMetricsLayer`: one request through a trivial tower
//! service, bare and with the layer, body read to the end; nanoseconds per request.
//! (`benches/load/layers.sh` measures the same on loopback with `wrk`, beside the
//! `axum-prometheus` layer and `tower_http::trace::TraceLayer`.)
//!
//! ```text
//! cargo bench -p observe-benches --bench http_layer
//! ```

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use observe_core::MetricsCollector;
use observe_tower::HttpMetricsLayer;
use tower::{Layer, ServiceExt, service_fn};

async fn hello(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"hello, world",
    ))))
}

fn resolve(_: &http::Method, uri: &http::Uri, _: &http::Extensions) -> Option<String> {
    uri.path()
        .strip_prefix("/users/")
        .map(|_| "/users/{id}".to_owned())
}

fn request() -> Request<Full<Bytes>> {
    Request::get("/users/42")
        .body(Full::new(Bytes::new()))
        .expect("a request")
}

fn layer_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("http_layer");

    let bare = service_fn(hello);
    group.bench_function("bare", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = bare.oneshot(request()).await.expect("infallible");
                black_box(
                    response
                        .into_body()
                        .collect()
                        .await
                        .expect("infallible")
                        .to_bytes(),
                )
            })
        });
    });

    let collector = MetricsCollector::new();
    let layered = HttpMetricsLayer::builder(&collector)
        .route_resolver(resolve)
        .build()
        .layer(service_fn(hello));
    group.bench_function("http_metrics_layer", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = layered
                    .clone()
                    .oneshot(request())
                    .await
                    .expect("infallible");
                black_box(
                    response
                        .into_body()
                        .collect()
                        .await
                        .expect("infallible")
                        .to_bytes(),
                )
            })
        });
    });
    group.finish();
    assert!(
        collector
            .get("GET /users/{id}")
            .is_some_and(|op| op.count > 0)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = layer_overhead
}
criterion_main!(benches);
