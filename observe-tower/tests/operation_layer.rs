//! OperationLayer on non-HTTP services: ok, error, dropped.

use std::time::Duration;

use observe_core::MetricsCollector;
use observe_tower::OperationLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn counts(collector: &MetricsCollector, name: &str) -> (u64, u64, u64) {
    let op = collector.get(name).expect("recorded");
    (op.count, op.error_count, op.cancelled_count)
}

#[tokio::test(start_paused = true)]
async fn ok_error_and_dropped_calls_are_recorded() {
    let collector = MetricsCollector::new();
    let mut svc = ServiceBuilder::new()
        .layer(OperationLayer::new(&collector, "resolve"))
        .service(service_fn(|n: u64| async move {
            if n == 0 {
                return Err("zero");
            }
            tokio::time::sleep(Duration::from_millis(n)).await;
            Ok(n)
        }));
    assert_eq!(svc.ready().await.expect("ready").call(1).await, Ok(1));
    assert_eq!(counts(&collector, "resolve"), (1, 0, 0));
    assert!(svc.ready().await.expect("ready").call(0).await.is_err());
    assert_eq!(counts(&collector, "resolve"), (2, 1, 0));
    let pending = svc.ready().await.expect("ready").call(60_000);
    assert_eq!(
        counts(&collector, "resolve"),
        (2, 1, 0),
        "nothing recorded before the end"
    );
    drop(pending);
    assert_eq!(counts(&collector, "resolve"), (3, 2, 1));
}

#[tokio::test]
async fn operations_can_be_named_from_the_request() {
    let collector = MetricsCollector::new();
    let svc = ServiceBuilder::new()
        .layer(OperationLayer::from_request(
            &collector,
            |msg: &(&str, u8)| format!("queue_{}", msg.0),
        ))
        .service(service_fn(
            |msg: (&str, u8)| async move { Ok::<_, ()>(msg.1) },
        ));
    svc.clone().oneshot(("emails", 1)).await.expect("ok");
    svc.clone().oneshot(("emails", 2)).await.expect("ok");
    svc.oneshot(("invoices", 3)).await.expect("ok");
    assert_eq!(counts(&collector, "queue_emails").0, 2);
    assert_eq!(counts(&collector, "queue_invoices").0, 1);
}
