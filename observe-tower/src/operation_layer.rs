//! [`OperationLayer`]: times every call of any [`tower::Service`](tower_service::Service)
//! as an operation of a collector: `Ok` is a success, `Err` an error, and a future
//! dropped before it completes is cancelled. It knows nothing of HTTP, so it fits gRPC
//! clients, database pools, queues or any service.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use observe_core::MetricsCollector;
//! use observe_tower::OperationLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let collector = MetricsCollector::new();
//! let lookup = ServiceBuilder::new()
//!     .layer(OperationLayer::new(&collector, "price_lookup"))
//!     .service(service_fn(|sku: u32| async move {
//!         if sku == 0 { Err("unknown sku") } else { Ok(sku * 100) }
//!     }));
//!
//! assert_eq!(lookup.clone().oneshot(7).await, Ok(700));
//! assert!(lookup.oneshot(0).await.is_err());
//! let op = collector.get("price_lookup").unwrap();
//! assert_eq!((op.count, op.error_count), (2, 1));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use observe_core::{MetricsCollector, OperationHandle, Timed};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// How an [`OperationLayer`] names the operation of a request.
enum Naming<Req> {
    Fixed(OperationHandle),
    FromRequest(MetricsCollector, Arc<dyn Fn(&Req) -> String + Send + Sync>),
}

/// A [`Layer`] that times every call of the wrapped service as an operation.
pub struct OperationLayer<Req> {
    naming: Naming<Req>,
}

impl<Req> Clone for Naming<Req> {
    fn clone(&self) -> Self {
        match self {
            Self::Fixed(handle) => Self::Fixed(handle.clone()),
            Self::FromRequest(collector, name) => {
                Self::FromRequest(collector.clone(), Arc::clone(name))
            }
        }
    }
}

impl<Req> OperationLayer<Req> {
    /// Times every call as the operation `name`.
    pub fn new(collector: &MetricsCollector, name: &str) -> Self {
        Self {
            naming: Naming::Fixed(collector.operation(name)),
        }
    }

    /// Names the operation of each call from its request, for example a gRPC method or
    /// a message type. The names must be bounded: the collector folds names past its
    /// cap into one overflow entry.
    ///
    /// ```
    /// # use observe_core::MetricsCollector;
    /// # use observe_tower::OperationLayer;
    /// # let collector = MetricsCollector::new();
    /// let layer = OperationLayer::from_request(&collector, |req: &(String, u32)| {
    ///     format!("queue_{}", req.0)
    /// });
    /// # let _ = layer;
    /// ```
    pub fn from_request(
        collector: &MetricsCollector,
        name: impl Fn(&Req) -> String + Send + Sync + 'static,
    ) -> Self {
        Self {
            naming: Naming::FromRequest(collector.clone(), Arc::new(name)),
        }
    }
}

impl<Req> Clone for OperationLayer<Req> {
    fn clone(&self) -> Self {
        Self {
            naming: self.naming.clone(),
        }
    }
}

impl<Req> std::fmt::Debug for OperationLayer<Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.naming {
            Naming::Fixed(handle) => f
                .debug_struct("OperationLayer")
                .field("operation", &handle.name())
                .finish(),
            Naming::FromRequest(..) => f
                .debug_struct("OperationLayer")
                .field("operation", &"<from request>")
                .finish(),
        }
    }
}

impl<S, Req> Layer<S> for OperationLayer<Req> {
    type Service = Operation<S, Req>;

    fn layer(&self, inner: S) -> Self::Service {
        Operation {
            inner,
            naming: self.naming.clone(),
        }
    }
}

/// Middleware that times every call of `S`. Built by [`OperationLayer`].
pub struct Operation<S, Req> {
    inner: S,
    naming: Naming<Req>,
}

impl<S: Clone, Req> Clone for Operation<S, Req> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            naming: self.naming.clone(),
        }
    }
}

impl<S: std::fmt::Debug, Req> std::fmt::Debug for Operation<S, Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, Req> Service<Req> for Operation<S, Req>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = OperationFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let timer = match &self.naming {
            Naming::Fixed(handle) => handle.start_timer().into_owned(),
            Naming::FromRequest(collector, name) => collector.start_timer(&name(&req)),
        };
        OperationFuture {
            inner: Timed::new(self.inner.call(req), timer),
        }
    }
}

pin_project! {
    /// Response future for [`Operation`]: records when the call completes, or as
    /// cancelled when dropped before. The timing is core's [`Timed`], started before the
    /// inner service's `call`.
    pub struct OperationFuture<F> {
        #[pin]
        inner: Timed<F>,
    }
}

impl<F, T, E> Future for OperationFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F> std::fmt::Debug for OperationFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationFuture")
            .field("inner", &self.inner)
            .finish()
    }
}
