//! A function instrumented with `err` and `ret` that is dropped before it returns is
//! counted as cancelled.

use std::time::Duration;

use observe_core::MetricsCollector;

use crate::{runtime, with_default_layer};

#[tracing::instrument(err, ret)]
async fn slow_lookup(wait: Duration) -> Result<u32, String> {
    tokio::time::sleep(wait).await;
    Ok(7)
}

#[test]
fn a_future_dropped_by_select_or_timeout_is_cancelled() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        runtime().block_on(async {
            // One call that returns: the layer learns that the function has `ret`.
            assert_eq!(slow_lookup(Duration::ZERO).await, Ok(7));
            tokio::select! {
                _ = slow_lookup(Duration::from_secs(60)) => panic!("the lookup cannot win"),
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
            let timed_out = tokio::time::timeout(
                Duration::from_millis(5),
                slow_lookup(Duration::from_secs(60)),
            )
            .await;
            assert!(timed_out.is_err());
            assert_eq!(slow_lookup(Duration::ZERO).await, Ok(7));
        });
    });
    let op = collector.get("slow_lookup").expect("recorded");
    assert_eq!(op.count, 4);
    assert_eq!(op.cancelled_count, 2);
    assert_eq!(
        op.error_count, 2,
        "cancellations count as errors by default"
    );
}

#[test]
fn cancellations_follow_the_collectors_setting() {
    let collector = MetricsCollector::builder()
        .count_cancelled_as_error(false)
        .build()
        .expect("a valid configuration");
    with_default_layer(&collector, || {
        runtime().block_on(async {
            let _ = slow_lookup(Duration::ZERO).await;
            let _ = tokio::time::timeout(
                Duration::from_millis(1),
                slow_lookup(Duration::from_secs(60)),
            )
            .await;
        });
    });
    let op = collector.get("slow_lookup").expect("recorded");
    assert_eq!((op.count, op.cancelled_count, op.error_count), (2, 1, 0));
}

#[tracing::instrument(err)]
async fn without_ret(wait: Duration) -> Result<(), String> {
    tokio::time::sleep(wait).await;
    Ok(())
}

#[test]
fn without_ret_a_cancellation_looks_like_an_ok() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        runtime().block_on(async {
            let _ = without_ret(Duration::ZERO).await;
            let _ = tokio::time::timeout(
                Duration::from_millis(1),
                without_ret(Duration::from_secs(60)),
            )
            .await;
        });
    });
    let op = collector.get("without_ret").expect("recorded");
    assert_eq!((op.count, op.cancelled_count, op.error_count), (2, 0, 0));
}

#[tracing::instrument(err, ret)]
async fn failing(fail: bool) -> Result<(), String> {
    tokio::task::yield_now().await;
    if fail { Err("no".to_owned()) } else { Ok(()) }
}

#[test]
fn an_error_is_an_error_not_a_cancellation() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        runtime().block_on(async {
            let _ = failing(false).await;
            let _ = failing(true).await;
        });
    });
    let op = collector.get("failing").expect("recorded");
    assert_eq!((op.count, op.error_count, op.cancelled_count), (2, 1, 0));
}
