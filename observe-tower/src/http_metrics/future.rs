//! [`ResponseFuture`] of [`HttpMetrics`](super::HttpMetrics).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::guard::Guard;

pin_project! {
    /// Response future for [`HttpMetrics`](super::HttpMetrics).
    ///
    /// Dropped before the response arrives, it records the request as cancelled with
    /// status 499 (client closed request).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Option<Guard>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, guard: Option<Guard>) -> Self {
        Self { inner, guard }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut guard = this.guard.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(guard) = guard.as_mut() {
                    guard.set_status(response.status());
                }
                Ok(response.map(|body| ResponseBody::new(body, guard)))
            }
            Err(error) => {
                if let Some(guard) = guard.as_mut() {
                    guard.fail();
                }
                Err(error)
            }
        })
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
