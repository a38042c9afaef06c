//! A small axum app for the `wrk` comparison of HTTP metrics layers
//! (`benches/load/layers.sh`): the same routes bare, with `observe`'s
//! `HttpMetricsLayer`, with the `axum-prometheus` layer, or with
//! `tower_http::trace::TraceLayer` (no subscriber installed). One tokio worker thread.
//!
//! ```text
//! cargo run --release -p observe-benches --example layer_app -- MODE ADDR
//! ```
//!
//! MODE is `bare`, `observe`, `axum-prometheus` or `trace`.

use axum::Router;
use axum::extract::Path;
use axum::routing::get;

async fn user(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello, world" }))
        .route("/users/{id}", get(user))
}

/// The app in `mode`; built inside the runtime (the `axum-prometheus` layer spawns a
/// task of its own).
fn router(mode: &str) -> Option<Router> {
    Some(match mode {
        "bare" => app(),
        "observe" => {
            let collector = observe_core::MetricsCollector::new();
            app().layer(observe_tower::HttpMetricsLayer::new(&collector))
        }
        "axum-prometheus" => {
            let (layer, _handle) = axum_prometheus::PrometheusMetricLayer::pair();
            app().layer(layer)
        }
        "trace" => app().layer(tower_http::trace::TraceLayer::new_for_http()),
        _ => return None,
    })
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "bare".to_owned());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(async move {
            let Some(router) = router(&mode) else {
                eprintln!("unknown mode {mode:?}: bare, observe, axum-prometheus or trace");
                std::process::exit(2);
            };
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            println!("{mode} listening on {addr}");
            axum::serve(listener, router).await
        })
}
