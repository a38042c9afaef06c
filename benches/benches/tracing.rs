//! The cost of the `observe` tracing layer, in nanoseconds per span, side by side with
//! the registry alone, `tracing-opentelemetry` and a hand-written span-latency layer of
//! the kind found in services, measured in the same run.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p observe-benches --bench tracing
//! ```
//!
//! Rows (groups), each reported per span:
//!
//! - `tracing/sync_span`: `info_span!(...).in_scope(...)`.
//! - `tracing/future_10_polls`: an instrumented future that is ready on its tenth poll
//!   (ten enters and exits of one span).
//! - `tracing/parent_99_children`: one parent span with 99 children, in scope in turn;
//!   the time of the tree divided by its 100 spans.
//!
//! Columns: `registry` (the registry alone: the floor), `observe` (+ the observe layer,
//! wall time only), `observe_busy` (+ busy time), `otel` (+ `tracing-opentelemetry` with
//! an SDK tracer provider and no exporter) and `handwritten` (+ a layer that observes a
//! `prometheus` `HistogramVec` with `with_label_values(&[span_name])` on close).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use observe_core::MetricsCollector;
use opentelemetry::trace::TracerProvider as _;
use tracing::{Instrument, Subscriber};
use tracing_subscriber::prelude::*;

#[path = "support/spans.rs"]
mod spans;

use spans::{HandWritten, TenPolls};

/// The three rows, under whatever subscriber is the default.
fn rows(c: &mut Criterion, column: &str) {
    c.benchmark_group("tracing/sync_span").bench_function(
        BenchmarkId::from_parameter(column),
        |b| {
            b.iter(|| tracing::info_span!("sync_span").in_scope(|| black_box(1)));
        },
    );
    c.benchmark_group("tracing/future_10_polls").bench_function(
        BenchmarkId::from_parameter(column),
        |b| {
            let mut cx = Context::from_waker(Waker::noop());
            b.iter(|| {
                let mut future = pin!(TenPolls(0).instrument(tracing::info_span!("polled")));
                while future.as_mut().poll(&mut cx).is_pending() {}
            });
        },
    );
    c.benchmark_group("tracing/parent_99_children")
        .bench_function(BenchmarkId::from_parameter(column), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    tracing::info_span!("parent").in_scope(|| {
                        for _ in 0..99 {
                            tracing::info_span!("child").in_scope(|| black_box(1));
                        }
                    });
                }
                started.elapsed() / 100
            });
        });
}

fn under<S>(c: &mut Criterion, column: &str, subscriber: S)
where
    S: Subscriber + Send + Sync + 'static,
{
    tracing::subscriber::with_default(subscriber, || rows(c, column));
}

fn tracing_layers(c: &mut Criterion) {
    under(c, "registry", tracing_subscriber::registry());
    let collector = MetricsCollector::new();
    // Wall time only: no OpenTelemetry layer here, so none of its ids to look for.
    under(
        c,
        "observe",
        tracing_subscriber::registry()
            .with(observe_core::tracing::layer(&collector).with_opentelemetry_ids(false)),
    );
    let busy = MetricsCollector::new();
    under(
        c,
        "observe_busy",
        tracing_subscriber::registry().with(
            observe_core::tracing::layer(&busy)
                .with_busy_time(true)
                .with_opentelemetry_ids(false),
        ),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    under(
        c,
        "otel",
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    under(
        c,
        "handwritten",
        tracing_subscriber::registry().with(HandWritten::new()),
    );
    // The floor again, last: the first column of a run is the noisiest (warm-up of the
    // process, the clock's frequency); docs/performance.md reads both.
    under(c, "registry_again", tracing_subscriber::registry());
    // The layers recorded what they were given.
    assert!(collector.get("sync_span").is_some_and(|op| op.count > 0));
    assert!(busy.get("polled.busy").is_some_and(|op| op.count > 0));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = tracing_layers
}
criterion_main!(benches);
