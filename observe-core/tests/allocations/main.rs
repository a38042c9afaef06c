//! The allocation audit: after warm-up, recording allocates nothing, and a scrape's
//! allocations depend on what it writes, not on how much was recorded since the last.
//!
//! The counting allocator counts the allocations of the thread that asks, so that the
//! other tests of this binary, on their own threads, do not disturb a count.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use observe_core::{MetricsCollector, Outcome, TraceContext};

/// How many allocations `f` makes on this thread (`allocation-counter` installs a
/// counting global allocator in this test binary).
fn allocations(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

/// Durations over six decades, 1 µs to 1 s, the same ones every round.
fn durations() -> Vec<Duration> {
    (0..512)
        .map(|i| Duration::from_nanos((1_000.0 * 10f64.powf(6.0 * f64::from(i) / 512.0)) as u64))
        .collect()
}

/// Records every power of two from 1 ns to 2^40 ns into `name`: every chunk of its
/// histogram exists, so that a timed measurement that lands anywhere (a preempted poll,
/// a slow machine) creates none, the one allocation recording may make.
fn every_chunk(collector: &MetricsCollector, name: &str) {
    for shift in 0..41 {
        for step in [1u64, 3, 5, 7] {
            collector.record_operation(name, Duration::from_nanos(step << shift), false);
        }
    }
}

fn collector() -> MetricsCollector {
    MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("a valid configuration")
}

#[test]
fn recording_through_a_held_handle_allocates_nothing_after_warm_up() {
    let collector = collector();
    every_chunk(&collector, "db_query");
    let handle = collector.operation("db_query");
    let durations = durations();
    let trace = TraceContext::new(7, 7, true).expect("non-zero");
    let round = || {
        for (i, &d) in durations.iter().enumerate() {
            handle.record(d, i % 3 == 0);
            handle.record_traced(d, Outcome::Ok, &trace);
            handle.start_timer().end_ok();
        }
    };
    // Warm-up: the chunks of the durations' ranges and the exemplar slots are created.
    round();
    assert_eq!(allocations(round), 0);
}

#[test]
fn recording_by_a_name_seen_before_allocates_nothing() {
    let collector = collector();
    let names: Vec<String> = (0..50).map(|i| format!("op_{i}")).collect();
    let durations = durations();
    let round = || {
        for (i, name) in names.iter().enumerate() {
            let d = durations[i * 7 % durations.len()];
            collector.record_operation(name, d, false);
            collector.record_outcome(name, d, Outcome::Cancelled);
            collector.start_timer(name).end_err();
        }
    };
    round();
    assert_eq!(allocations(round), 0);
}

/// A future that is ready on its third poll.
struct ThreePolls(u8);

impl Future for ThreePolls {
    type Output = Result<(), ()>;

    fn poll(mut self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0 += 1;
        if self.0 == 3 {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_timed_future_allocates_nothing_after_warm_up() {
    let collector = collector();
    every_chunk(&collector, "fetch");
    let handle = collector.operation("fetch");
    let run = || {
        let mut future = pin!(handle.time_async(ThreePolls(0)));
        let mut cx = Context::from_waker(Waker::noop());
        while future.as_mut().poll(&mut cx).is_pending() {}
    };
    run();
    assert_eq!(allocations(|| (0..100).for_each(|_| run())), 0);
}

/// The allocations of a scrape after `records` more records of 100 operations.
fn scrape_after(collector: &MetricsCollector, records: usize) -> u64 {
    let durations = durations();
    for i in 0..records {
        collector.record_operation(
            &format!("op_{:03}", i % 100),
            durations[i % durations.len()],
            false,
        );
    }
    let format = observe_core::prometheus::ExpositionFormat::Prometheus;
    allocations(|| {
        let _ = collector.encode_prometheus(format);
    })
}

#[test]
fn a_scrapes_allocations_do_not_grow_with_the_records_since_the_last() {
    let collector = collector();
    // Every operation has every range already: later records change counts, not sizes.
    scrape_after(&collector, 100 * 512);
    let after_few = scrape_after(&collector, 100);
    let after_many = scrape_after(&collector, 100_000);
    assert!(after_few > 0);
    assert!(
        after_many <= after_few + 8,
        "a scrape after 100,000 records made {after_many} allocations, after 100 {after_few}"
    );
}

#[cfg(feature = "tracing")]
mod tracing_layer {
    use tracing_subscriber::prelude::*;

    use super::{allocations, collector, every_chunk};

    fn spans() {
        for _ in 0..100 {
            tracing::info_span!("parent").in_scope(|| {
                tracing::info_span!("child").in_scope(|| {});
            });
        }
    }

    /// The allocations of 200 spans under `subscriber`, after a warm-up round.
    fn per_round(subscriber: impl tracing::Subscriber + Send + Sync) -> u64 {
        tracing::subscriber::with_default(subscriber, || {
            spans();
            allocations(spans)
        })
    }

    #[test]
    fn the_layer_allocates_only_the_registrys_box_for_its_value() {
        let alone = per_round(tracing_subscriber::registry());
        let collector = collector();
        for name in ["parent", "child", "parent.busy", "child.busy"] {
            every_chunk(&collector, name);
        }
        let with_layer = per_round(
            tracing_subscriber::registry().with(observe_core::tracing::layer(&collector)),
        );
        let busy = collector.clone();
        let with_busy = per_round(
            tracing_subscriber::registry()
                .with(observe_core::tracing::layer(&busy).with_busy_time(true)),
        );
        // The registry boxes each value a layer puts in a span's extensions: one a span,
        // and nothing more (the registry alone may allocate once for itself).
        assert!(
            with_layer <= alone + 200,
            "registry alone {alone}, with the layer {with_layer}"
        );
        assert!(
            with_busy <= alone + 200,
            "registry alone {alone}, with busy time {with_busy}"
        );
        // 164 warm-up records, then 100 children per round, two rounds per layer.
        assert_eq!(collector.get("child").map(|op| op.count), Some(164 + 400));
    }
}
