//! The allocation audit of `HttpMetricsLayer`: after warm-up, a request to a known route
//! allocates exactly what it allocates through a layer that does nothing but wrap the
//! response body, as the layer must to see the body end. (`Router::layer` boxes the
//! layered service and its futures whatever the layer, and boxes a response body of any
//! type but its own `Body`: that is axum's cost, the same for every layer that wraps the
//! body, so the baseline pays it too.)

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use observe_core::MetricsCollector;
use observe_tower::HttpMetricsLayer;
use tower::ServiceExt;

fn router() -> Router {
    Router::new().route("/users/{id}", get(|| async { "user" }))
}

/// The router as a server runs it: `axum::serve` turns its handlers into services once
/// (`with_state`). Called as it is, a `Router` does that on every request, cloning the
/// boxed layer with each handler: an allocation for any layer that is not zero-sized.
fn served(router: Router) -> Router {
    router.with_state(())
}

/// A response body that only passes its inner body's frames on.
struct Passthrough(Body);

impl http_body::Body for Passthrough {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

/// The do-nothing layer that wraps the response body.
fn passthrough(response: Response<Body>) -> Response<Passthrough> {
    response.map(Passthrough)
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
    let identity = allocations(
        &served(router().layer(tower::layer::util::Identity::new())),
        false,
    );
    let baseline = served(router().layer(tower::util::MapResponseLayer::new(passthrough)));
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
    let measured = served(router().layer(HttpMetricsLayer::new(&collector)));
    let with_layer = allocations(&measured, false);
    let traced = allocations(&measured, true);
    assert_eq!(
        with_layer, bare,
        "the layer allocates (identity {identity}, body-wrapping baseline {bare})"
    );
    assert_eq!(
        traced, bare_traced,
        "a traceparent allocates in the layer (baseline {bare_traced})"
    );
    // The baseline pays axum's box of a foreign body type, and nothing else: if this
    // ever changes, the comparison above no longer says what it claims.
    assert!(
        bare > identity && bare <= identity + 2 * 100,
        "identity {identity}, body-wrapping baseline {bare}"
    );
    assert_eq!(
        collector.get("GET /users/{id}").map(|op| op.count),
        Some(400 + 41)
    );
}
