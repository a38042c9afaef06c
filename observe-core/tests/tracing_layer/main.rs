//! The `tracing` layer, end to end: spans of real `#[instrument]`ed functions, recorded
//! into a collector of the test's own under a subscriber of the test's own.

mod cancellation;
mod composition;
mod names;
mod outcomes;
mod timing;

use observe_core::MetricsCollector;
use tracing_subscriber::prelude::*;

/// Runs `f` with a registry and the observe layer (built by `layer`) as the thread's
/// default subscriber.
pub(crate) fn with_layer<R>(
    collector: &MetricsCollector,
    layer: impl FnOnce(observe_core::tracing::OperationsLayer) -> observe_core::tracing::OperationsLayer,
    f: impl FnOnce() -> R,
) -> R {
    let subscriber =
        tracing_subscriber::registry().with(layer(observe_core::tracing::layer(collector)));
    tracing::subscriber::with_default(subscriber, f)
}

/// Runs `f` with the default layer.
pub(crate) fn with_default_layer<R>(collector: &MetricsCollector, f: impl FnOnce() -> R) -> R {
    with_layer(collector, |l| l, f)
}

/// A current-thread runtime with time, for the async tests.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}
