//! What counts as an error: `#[instrument(err)]` events, `otel.status_code`, a declared
//! `error` field, and `ERROR` events only when asked.

use observe_core::MetricsCollector;
use tracing::Span;

use crate::{runtime, with_default_layer, with_layer};

#[tracing::instrument(err)]
fn parse_sync(i: u32) -> Result<u32, String> {
    if i.is_multiple_of(7) {
        Err(format!("{i} is a multiple of 7"))
    } else {
        Ok(i)
    }
}

#[tracing::instrument(err)]
async fn parse_async(i: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    if i.is_multiple_of(5) {
        Err("multiple of 5".to_owned())
    } else {
        Ok(i)
    }
}

#[test]
fn ten_thousand_sync_calls_are_counted_exactly() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        for i in 0..10_000 {
            let _ = parse_sync(i);
        }
    });
    let op = collector
        .get("parse_sync")
        .expect("the function's operation");
    let failed = (0..10_000u32).filter(|i| i.is_multiple_of(7)).count() as u64;
    assert_eq!(
        (op.count, op.error_count, op.cancelled_count),
        (10_000, failed, 0)
    );
    assert_eq!(
        op.error_events, failed,
        "each `err` event is an ERROR event"
    );
    assert_eq!(collector.summary().total_operations, 10_000);
}

#[test]
fn ten_thousand_async_calls_are_counted_exactly() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        runtime().block_on(async {
            for i in 0..10_000 {
                let _ = parse_async(i).await;
            }
        });
    });
    let op = collector
        .get("parse_async")
        .expect("the function's operation");
    assert_eq!(
        (op.count, op.error_count, op.cancelled_count),
        (10_000, 2_000, 0)
    );
    assert_eq!(collector.summary().total_operations, 10_000);
}

#[tracing::instrument(err(level = "warn"))]
fn soft_failure() -> Result<(), &'static str> {
    Err("retry later")
}

#[test]
fn an_err_event_at_another_level_is_still_an_error() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        let _ = soft_failure();
    });
    let op = collector.get("soft_failure").expect("recorded");
    assert_eq!((op.count, op.error_count), (1, 1));
    assert_eq!((op.warn_events, op.error_events), (1, 0));
}

#[tracing::instrument(err(level = "info"))]
fn quiet_failure() -> Result<(), &'static str> {
    Err("quietly")
}

#[test]
fn an_err_event_below_warn_is_an_error_too() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        let _ = quiet_failure();
    });
    let op = collector.get("quiet_failure").expect("recorded");
    assert_eq!((op.count, op.error_count), (1, 1));
    assert_eq!(
        (op.warn_events, op.error_events),
        (0, 0),
        "INFO is not counted"
    );
}

#[tracing::instrument]
fn ok_with_an_error_log() -> Result<(), String> {
    tracing::error!("the cache is down; served from the database");
    tracing::warn!(attempt = 2, "slow");
    Ok(())
}

#[test]
fn an_error_log_inside_an_ok_is_not_an_error_unless_asked() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        let _ = ok_with_an_error_log();
    });
    let op = collector.get("ok_with_an_error_log").expect("recorded");
    assert_eq!((op.count, op.error_count), (1, 0));
    assert_eq!((op.warn_events, op.error_events), (1, 1));

    let strict = MetricsCollector::new();
    with_layer(
        &strict,
        |l| l.with_error_events_as_errors(true),
        || {
            let _ = ok_with_an_error_log();
        },
    );
    let op = strict.get("ok_with_an_error_log").expect("recorded");
    assert_eq!((op.count, op.error_count), (1, 1));
}

#[test]
fn otel_status_code_decides_both_ways() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        tracing::info_span!("failed_by_status", otel.status_code = "ERROR").in_scope(|| {});
        let span = tracing::info_span!("failed_later", otel.status_code = tracing::field::Empty);
        span.record("otel.status_code", "error");
        drop(span);
        tracing::info_span!("ok_despite_error_event", otel.status_code = "ok").in_scope(|| {
            tracing::error!(error = "a handled failure");
        });
        let _ = tracing::info_span!("unknown_status", otel.status_code = "unset").entered();
    });
    let errors = |name: &str| {
        let op = collector.get(name).expect(name);
        (op.count, op.error_count)
    };
    assert_eq!(errors("failed_by_status"), (1, 1));
    assert_eq!(errors("failed_later"), (1, 1));
    assert_eq!(errors("ok_despite_error_event"), (1, 0));
    assert_eq!(errors("unknown_status"), (1, 0));
}

#[test]
fn a_recorded_error_field_is_an_error() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        for fail in [true, false] {
            let span = tracing::info_span!("with_error_field", error = tracing::field::Empty);
            let _entered = span.enter();
            if fail {
                Span::current().record("error", tracing::field::display("connection reset"));
            }
        }
        let span = tracing::info_span!("error_false", error = tracing::field::Empty);
        span.record("error", false);
    });
    let op = collector.get("with_error_field").expect("recorded");
    assert_eq!((op.count, op.error_count), (2, 1));
    assert_eq!(
        collector.get("error_false").expect("recorded").error_count,
        0
    );
}

#[test]
fn a_message_with_an_error_field_is_a_log_not_an_outcome() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        tracing::info_span!("logged").in_scope(|| {
            tracing::info!(error = "ignored", "a message that mentions an error");
        });
    });
    assert_eq!(collector.get("logged").expect("recorded").error_count, 0);
}
