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

/// The OpenTelemetry ids of the current span, as `tracing-opentelemetry` gives them.
#[cfg(feature = "opentelemetry")]
fn current_otel_ids() -> (u128, u64, bool) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = tracing::Span::current().context();
    let span = context.span();
    let ids = span.span_context();
    (
        u128::from_be_bytes(ids.trace_id().to_bytes()),
        u64::from_be_bytes(ids.span_id().to_bytes()),
        ids.is_sampled(),
    )
}

/// Runs one parent span with a child under `subscriber`; returns the OpenTelemetry ids
/// each had, as seen from inside.
#[cfg(feature = "opentelemetry")]
fn traced(subscriber: impl tracing::Subscriber + Send + Sync) -> [(u128, u64, bool); 2] {
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("traced_parent").in_scope(|| {
            let parent = current_otel_ids();
            let child = tracing::info_span!("traced_child").in_scope(current_otel_ids);
            [parent, child]
        })
    })
}

#[cfg(feature = "opentelemetry")]
#[test]
fn sampled_otel_ids_become_exemplars_in_either_order() {
    let provider = tracer_provider();
    let a = MetricsCollector::new();
    let otel_inner = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(observe_core::tracing::layer(&a));
    let b = MetricsCollector::new();
    let otel_outer = tracing_subscriber::registry()
        .with(observe_core::tracing::layer(&b))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    for (collector, ids) in [(&a, traced(otel_inner)), (&b, traced(otel_outer))] {
        assert_ne!(ids[0].1, ids[1].1, "two spans, two ids");
        for (name, (trace_id, span_id, sampled)) in
            ["traced_parent", "traced_child"].iter().zip(ids)
        {
            assert!(sampled, "the default sampler samples");
            let op = collector.get(name).expect("recorded");
            let exemplar = op
                .exemplars
                .first()
                .unwrap_or_else(|| panic!("no exemplar of {name}"));
            assert_eq!(
                (exemplar.trace.trace_id(), exemplar.trace.span_id()),
                (trace_id, span_id),
                "{name}"
            );
        }
    }
}

#[cfg(feature = "opentelemetry")]
#[test]
fn unsampled_otel_traces_leave_no_exemplar() {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
        .build();
    let collector = MetricsCollector::new();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(observe_core::tracing::layer(&collector));
    let ids = traced(subscriber);
    assert!(!ids[0].2, "not sampled");
    let op = collector
        .get("traced_parent")
        .expect("recorded all the same");
    assert_eq!(op.count, 1);
    assert!(op.exemplars.is_empty());
}
