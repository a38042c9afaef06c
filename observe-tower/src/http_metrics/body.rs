//! [`ResponseBody`] of [`HttpMetrics`](super::HttpMetrics).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::guard::Guard;

pin_project! {
    /// Response body for [`HttpMetrics`](super::HttpMetrics).
    ///
    /// Counts the bytes sent and records the request when the body ends, or as
    /// cancelled when it is dropped before that.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        guard: Option<Guard>,
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, mut guard: Option<Guard>) -> Self {
        // A body that is already over will not be polled: the request ends now.
        if inner.is_end_stream()
            && let Some(guard) = guard.as_mut()
        {
            guard.finish();
        }
        Self { inner, guard }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(guard) = this.guard.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        guard.add_bytes(data.remaining());
                    }
                    // Servers stop polling a body that says it is over.
                    if this.inner.is_end_stream() {
                        guard.finish();
                    }
                }
                Some(Err(_)) => guard.body_failed(),
                None => guard.finish(),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}
