//! Wall time ends at the last exit; busy time counts the stretches a span was entered.

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use observe_core::MetricsCollector;
use tracing::Instrument;

use crate::{runtime, with_default_layer, with_layer};

#[tracing::instrument]
fn child(i: u32) -> u32 {
    i * 2
}

#[tracing::instrument]
fn parent() -> u32 {
    (0..3).map(child).sum()
}

#[test]
fn nested_spans_are_each_their_own_operation() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || assert_eq!(parent(), 6));
    let parent = collector.get("parent").expect("the parent");
    let child = collector.get("child").expect("the children");
    assert_eq!((parent.count, child.count), (1, 3));
    assert!(parent.max >= child.max, "the parent contains its children");
}

#[tracing::instrument]
fn spawns_a_child() -> tokio::task::JoinHandle<()> {
    // The child span's parent is this span: tracing keeps this span open until the
    // child closes.
    tokio::spawn(
        async { tokio::time::sleep(Duration::from_millis(300)).await }
            .instrument(tracing::info_span!("outliving_child")),
    )
}

#[test]
fn a_child_that_outlives_its_parent_does_not_stretch_it() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        runtime().block_on(async {
            let child = spawns_a_child();
            child.await.expect("the child ran");
        });
    });
    let parent = collector.get("spawns_a_child").expect("the parent");
    let child = collector.get("outliving_child").expect("the child");
    assert!(child.max >= Duration::from_millis(300), "{:?}", child.max);
    // The parent closed with its child, 300 ms later; it ended when it returned.
    assert!(parent.max < Duration::from_millis(150), "{:?}", parent.max);
}

#[test]
fn a_span_entered_on_two_threads_at_once_is_timed_once() {
    let collector = MetricsCollector::new();
    with_layer(
        &collector,
        |l| l.with_busy_time(true),
        || {
            let span = tracing::info_span!("shared_span");
            let (entered, go_on) = (mpsc::channel(), mpsc::channel::<()>());
            std::thread::scope(|s| {
                let outer = span.clone();
                let (tell, wait) = (entered.0, go_on.1);
                s.spawn(move || {
                    let _inside = outer.enter();
                    tell.send(()).expect("the other thread listens");
                    // Stays inside until the other thread has been in and out.
                    wait.recv().expect("the other thread answers");
                });
                entered.1.recv().expect("the first thread entered");
                let inner = span.clone();
                s.spawn(move || {
                    let _inside = inner.enter();
                    std::thread::sleep(Duration::from_millis(100));
                })
                .join()
                .expect("the second thread");
                go_on.0.send(()).expect("the first thread waits");
            });
            drop(span);
        },
    );
    let wall = collector.get("shared_span").expect("recorded");
    let busy = collector.get("shared_span.busy").expect("busy recorded");
    assert_eq!((wall.count, busy.count), (1, 1), "one span, one record");
    // The second thread's 100 ms lie inside the first thread's stretch: counted once,
    // the busy time cannot exceed the wall time.
    assert!(wall.max >= Duration::from_millis(100), "{:?}", wall.max);
    assert!(busy.max >= Duration::from_millis(99), "{:?}", busy.max);
    assert!(
        busy.max <= wall.max,
        "busy {:?} > wall {:?}",
        busy.max,
        wall.max
    );
}

/// A future that is ready on its `polls`-th poll.
struct Polls {
    left: u32,
}

impl Future for Polls {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.left -= 1;
        if self.left == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn busy_time_leaves_out_the_time_between_polls() {
    let collector = MetricsCollector::new();
    with_layer(
        &collector,
        |l| l.with_busy_time(true),
        || {
            let mut future = pin!(Polls { left: 1_000 }.instrument(tracing::info_span!("polled")));
            let mut cx = Context::from_waker(Waker::noop());
            let mut polls = 0;
            while future.as_mut().poll(&mut cx).is_pending() {
                polls += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            assert_eq!(polls, 999);
        },
    );
    let wall = collector.get("polled").expect("wall");
    let busy = collector.get("polled.busy").expect("busy");
    assert!(wall.max >= Duration::from_millis(199), "{:?}", wall.max);
    // 1,000 polls of a counter take microseconds; the sleeps between them 200 ms.
    assert!(
        busy.max * 4 < wall.max,
        "busy {:?}, wall {:?}",
        busy.max,
        wall.max
    );
}

#[test]
fn a_span_never_entered_lasts_until_it_closes() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || {
        let span = tracing::info_span!("never_entered");
        std::thread::sleep(Duration::from_millis(20));
        drop(span);
    });
    let op = collector.get("never_entered").expect("recorded");
    assert!(op.max >= Duration::from_millis(20), "{:?}", op.max);
}

#[test]
fn without_busy_time_no_busy_operation_exists() {
    let collector = MetricsCollector::new();
    with_default_layer(&collector, || tracing::info_span!("plain").in_scope(|| {}));
    assert!(collector.get("plain").is_some());
    assert!(collector.get("plain.busy").is_none());
}
