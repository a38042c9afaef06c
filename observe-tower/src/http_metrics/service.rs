//! [`HttpMetrics`], the service produced by [`HttpMetricsLayer`](super::HttpMetricsLayer).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use observe_core::TraceContext;
use tower_service::Service;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::guard::Guard;
use super::labels::method_index;
use super::layer::Shared;

/// Middleware that measures HTTP requests. Built by
/// [`HttpMetricsLayer`](super::HttpMetricsLayer).
#[derive(Clone, Debug)]
pub struct HttpMetrics<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> HttpMetrics<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn guard<B>(&self, req: &Request<B>) -> Option<Guard> {
        let shared = &self.shared;
        if shared.is_excluded(req.uri().path()) {
            return None;
        }
        let route = match matched_path(req) {
            Some(template) => shared.routes.get(template),
            None => match &shared.resolver {
                Some(resolver) => resolver
                    .resolve(req.method(), req.uri(), req.extensions())
                    .map_or_else(|| shared.routes.unmatched(), |t| shared.routes.get(&t)),
                None => shared.routes.unmatched(),
            },
        };
        let trace = if shared.traceparent {
            req.headers()
                .get("traceparent")
                .and_then(|value| value.to_str().ok())
                .and_then(TraceContext::from_traceparent)
        } else {
            None
        };
        Some(Guard::start(
            Arc::clone(shared),
            method_index(req.method()),
            route,
            trace,
        ))
    }
}

#[cfg(feature = "axum")]
fn matched_path<B>(req: &Request<B>) -> Option<&str> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn matched_path<B>(_req: &Request<B>) -> Option<&str> {
    None
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let guard = self.guard(&req);
        ResponseFuture::new(self.inner.call(req), guard)
    }
}
