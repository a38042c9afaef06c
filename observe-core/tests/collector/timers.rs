use std::time::Duration;

use observe_core::{MetricsCollector, OperationTimer, Outcome};

fn counts(collector: &MetricsCollector, name: &str) -> (u64, u64, u64) {
    let op = collector.get(name).expect("recorded");
    (op.count, op.error_count, op.cancelled_count)
}

#[test]
fn end_with_ok_result_is_a_success() {
    let collector = MetricsCollector::new();
    let timer = OperationTimer::new(&collector, "op");
    let elapsed = timer.end(&Ok::<_, ()>(1));
    assert_eq!(counts(&collector, "op"), (1, 0, 0));
    assert_eq!(collector.get("op").map(|op| op.max), Some(elapsed));
}

#[test]
fn end_with_err_result_is_an_error() {
    let collector = MetricsCollector::new();
    OperationTimer::new(&collector, "op").end(&Err::<(), _>("boom"));
    assert_eq!(counts(&collector, "op"), (1, 1, 0));
}

#[test]
fn end_ok_and_end_err() {
    let collector = MetricsCollector::new();
    OperationTimer::new(&collector, "op").end_ok();
    OperationTimer::new(&collector, "op").end_err();
    assert_eq!(counts(&collector, "op"), (2, 1, 0));
}

#[test]
fn a_dropped_timer_is_cancelled_and_an_error_by_default() {
    let collector = MetricsCollector::new();
    drop(OperationTimer::new(&collector, "op"));
    assert_eq!(counts(&collector, "op"), (1, 1, 1));
}

#[test]
fn cancellations_need_not_count_as_errors() {
    let collector = MetricsCollector::builder()
        .count_cancelled_as_error(false)
        .build()
        .expect("valid config");
    drop(collector.start_timer("op"));
    collector.record_outcome("op", Duration::from_millis(1), Outcome::Cancelled);
    assert_eq!(counts(&collector, "op"), (2, 0, 2));
}

#[test]
fn a_timer_measures_the_time_it_was_held() {
    let collector = MetricsCollector::new();
    let handle = collector.operation("sleep");
    let timer = handle.start_timer();
    std::thread::sleep(Duration::from_millis(20));
    let elapsed = timer.end_ok();
    assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
    let op = collector.get("sleep").expect("recorded");
    assert_eq!(op.max, elapsed);
    assert!(op.last_recorded.is_some());
}

#[test]
fn a_timer_made_owned_records_once_after_its_handle_is_gone() {
    let collector = MetricsCollector::new();
    let handle = collector.operation("moved");
    let owned = handle.start_timer().into_owned();
    drop(handle);
    std::thread::spawn(move || drop(owned))
        .join()
        .expect("the thread ends");
    assert_eq!(counts(&collector, "moved"), (1, 1, 1));
}

#[test]
fn time_records_the_closure_outcome() {
    let collector = MetricsCollector::new();
    assert_eq!(collector.time("parse", || "7".parse::<u8>()), Ok(7));
    assert!(collector.time("parse", || "x".parse::<u8>()).is_err());
    let handle = collector.operation("parse");
    assert_eq!(handle.time(|| Ok::<_, ()>(())), Ok(()));
    assert_eq!(counts(&collector, "parse"), (3, 1, 0));
}

#[tokio::test]
async fn time_async_records_ok_and_err() {
    let collector = MetricsCollector::new();
    let ok = collector
        .time_async("fetch", async { Ok::<_, String>(1) })
        .await;
    let err = collector
        .operation("fetch")
        .time_async(async { Err::<u8, _>("down".to_string()) })
        .await;
    assert_eq!((ok, err.is_err()), (Ok(1), true));
    assert_eq!(counts(&collector, "fetch"), (2, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_future_dropped_by_select_is_cancelled() {
    let collector = MetricsCollector::new();
    let slow = collector.time_async("slow_query", async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, ()>(())
    });
    tokio::select! {
        _ = slow => panic!("the slow branch cannot win"),
        () = tokio::time::sleep(Duration::from_millis(10)) => {}
    }
    assert_eq!(counts(&collector, "slow_query"), (1, 1, 1));
}

#[tokio::test]
async fn a_future_never_polled_but_dropped_is_cancelled_once() {
    let collector = MetricsCollector::new();
    let future = collector.time_async("never", async { Ok::<_, ()>(()) });
    drop(future);
    assert_eq!(counts(&collector, "never"), (1, 1, 1));
}
