//! The layer beside `fmt`, `EnvFilter` and `tracing-opentelemetry`, in either order.

use observe_core::MetricsCollector;
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::prelude::*;

#[tracing::instrument(err)]
fn work(i: u32) -> Result<u32, String> {
    tracing::info!(i, "working");
    if i.is_multiple_of(4) {
        Err("every fourth".to_owned())
    } else {
        Ok(i)
    }
}

/// Runs 100 calls of `work` under `subscriber`; returns (count, errors) of `work`.
fn run(
    collector: &MetricsCollector,
    subscriber: impl tracing::Subscriber + Send + Sync,
) -> (u64, u64) {
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..100 {
            let _ = work(i);
        }
    });
    collector
        .get("work")
        .map_or((0, 0), |op| (op.count, op.error_count))
}

fn quiet_fmt<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer().with_writer(std::io::sink)
}

#[test]
fn beside_fmt_in_either_order() {
    let a = MetricsCollector::new();
    let first = tracing_subscriber::registry()
        .with(quiet_fmt())
        .with(observe_core::tracing::layer(&a));
    assert_eq!(run(&a, first), (100, 25));
    let b = MetricsCollector::new();
    let second = tracing_subscriber::registry()
        .with(observe_core::tracing::layer(&b))
        .with(quiet_fmt());
    assert_eq!(run(&b, second), (100, 25));
}

#[test]
fn a_per_layer_filter_quiets_the_logs_and_keeps_the_operations() {
    let collector = MetricsCollector::new();
    let subscriber = tracing_subscriber::registry()
        .with(quiet_fmt().with_filter(EnvFilter::new("warn")))
        .with(observe_core::tracing::layer(&collector));
    assert_eq!(run(&collector, subscriber), (100, 25));
}

#[test]
fn a_global_filter_that_disables_info_spans_loses_them() {
    // What the docs warn against: the filter applies to every layer.
    let collector = MetricsCollector::new();
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("warn"))
        .with(quiet_fmt())
        .with(observe_core::tracing::layer(&collector));
    assert_eq!(run(&collector, subscriber), (0, 0));
}

#[test]
fn the_layer_takes_a_per_layer_filter_of_its_own() {
    let collector = MetricsCollector::new();
    let subscriber = tracing_subscriber::registry().with(
        observe_core::tracing::layer(&collector)
            .with_filter(filter_fn(|metadata| metadata.target() != "elsewhere")),
    );
    tracing::subscriber::with_default(subscriber, || {
        let _ = work(1);
        tracing::info_span!(target: "elsewhere", "filtered_out").in_scope(|| {});
    });
    assert_eq!(collector.get("work").map(|op| op.count), Some(1));
    assert!(collector.get("filtered_out").is_none());
}

fn tracer_provider() -> opentelemetry_sdk::trace::SdkTracerProvider {
    // No exporter: spans are built and dropped, as with a sampler and nowhere to send.
    opentelemetry_sdk::trace::SdkTracerProvider::builder().build()
}

#[test]
fn beside_tracing_opentelemetry_in_either_order() {
    let provider = tracer_provider();
    let a = MetricsCollector::new();
    let otel_inner = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(observe_core::tracing::layer(&a));
    let b = MetricsCollector::new();
    let otel_outer = tracing_subscriber::registry()
        .with(observe_core::tracing::layer(&b))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let alone = MetricsCollector::new();
    let plain = tracing_subscriber::registry().with(observe_core::tracing::layer(&alone));
    let counts = [run(&a, otel_inner), run(&b, otel_outer), run(&alone, plain)];
    assert_eq!(counts, [(100, 25); 3]);
}

#[test]
fn two_observe_layers_on_one_subscriber_each_count_once() {
    let (a, b) = (MetricsCollector::new(), MetricsCollector::new());
    let subscriber = tracing_subscriber::registry()
        .with(observe_core::tracing::layer(&a))
        .with(observe_core::tracing::layer(&b).with_busy_time(true));
    assert_eq!(run(&b, subscriber), (100, 25));
    assert_eq!(
        a.get("work").map(|op| (op.count, op.error_count)),
        Some((100, 25))
    );
    assert_eq!(b.get("work.busy").map(|op| op.count), Some(100));
    assert!(
        a.get("work.busy").is_none(),
        "each layer keeps its own options"
    );
}
