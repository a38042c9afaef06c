//! Graceful shutdown: on SIGTERM or Ctrl-C, readiness answers 503 at once while the
//! server keeps serving for the drain time; then it stops accepting.

use std::time::Duration;

use observe_tower::Readiness;

/// Resolves on SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Waits for `stop`, drains for `drain` (readiness off, still serving), then resolves:
/// the moment to stop accepting.
pub async fn drain_after(
    stop: impl std::future::Future<Output = ()>,
    readiness: Readiness,
    drain: Duration,
) {
    stop.await;
    tracing::info!(
        drain_seconds = drain.as_secs_f64(),
        "shutting down: readiness off, draining"
    );
    readiness.drain();
    tokio::time::sleep(drain).await;
    tracing::info!("drained: no longer accepting; finishing requests in flight");
}
