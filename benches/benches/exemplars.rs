//! What exemplars cost: recording with and without a trace context, parsing a
//! `traceparent`, and the OpenMetrics exposition with and without exemplars.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p observe-benches --bench exemplars
//! ```
//!
//! - `exemplars/record/*`: one held-handle record of a duration from a rotation of 1,024
//!   (1 µs to 1 s): without a trace (`none`), with an unsampled trace, with a sampled one
//!   (which stores the exemplar of its bucket).
//! - `exemplars/histogram_family/*`: one observe of a held `HistogramSeries` (the HTTP
//!   layer's duration histogram) with the default buckets, from the same rotation in
//!   seconds: without a trace, with an unsampled one, with a sampled one; beside
//!   `prometheus-client`'s `Histogram` (what the HTTP layer used before, no exemplars)
//!   and its `HistogramWithExemplars` (a write lock per observe) given the same trace.
//! - `exemplars/traceparent/*`: `TraceContext::from_traceparent` on a valid and an
//!   invalid header.
//! - `exemplars/openmetrics_1000/*`: the OpenMetrics exposition of 1,000 operations with
//!   no exemplar, and with one in every bucket.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use observe_core::prometheus::{DEFAULT_BUCKETS, ExpositionFormat, HistogramFamily};
use observe_core::{MetricsCollector, Outcome, TraceContext};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::histogram::Histogram;

/// The label set a `HistogramWithExemplars` user would attach.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TraceLabels {
    trace_id: String,
    span_id: String,
}

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn durations() -> Vec<Duration> {
    (0..1024)
        .map(|i| Duration::from_nanos((1_000.0 * 10f64.powf(6.0 * f64::from(i) / 1024.0)) as u64))
        .collect()
}

fn record(c: &mut Criterion) {
    let durations = durations();
    let collector = MetricsCollector::new();
    let handle = collector.operation("op");
    let sampled = TraceContext::from_traceparent(VALID).expect("valid");
    let unsampled = TraceContext::new(sampled.trace_id(), sampled.span_id(), false).expect("valid");
    let mut group = c.benchmark_group("exemplars/record");
    let mut i = 0;
    group.bench_function("none", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            handle.record_outcome(black_box(durations[i]), Outcome::Ok);
        });
    });
    group.bench_function("unsampled_trace", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            handle.record_traced(black_box(durations[i]), Outcome::Ok, &unsampled);
        });
    });
    group.bench_function("sampled_trace", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            handle.record_traced(black_box(durations[i]), Outcome::Ok, &sampled);
        });
    });
    group.finish();

    let seconds: Vec<f64> = durations.iter().map(Duration::as_secs_f64).collect();
    let family = HistogramFamily::builder("http_request_duration", "HTTP requests")
        .labels(["route"])
        .register(&collector)
        .expect("a valid family");
    let series = family.series(["/r"]);
    let classic = Histogram::new(DEFAULT_BUCKETS.iter().copied());
    let with_exemplars =
        HistogramWithExemplars::<TraceLabels>::new(DEFAULT_BUCKETS.iter().copied());
    let mut group = c.benchmark_group("exemplars/histogram_family");
    group.bench_function("none", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            series.observe(black_box(seconds[i]));
        });
    });
    group.bench_function("unsampled_trace", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            series.observe_traced(black_box(seconds[i]), &unsampled);
        });
    });
    group.bench_function("sampled_trace", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            series.observe_traced(black_box(seconds[i]), &sampled);
        });
    });
    group.bench_function("prometheus_client_histogram", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            classic.observe(black_box(seconds[i]));
        });
    });
    group.bench_function("prometheus_client_with_exemplars", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            // What a caller pays to attach the trace: its ids as text, then the lock.
            let labels = TraceLabels {
                trace_id: format!("{:032x}", sampled.trace_id()),
                span_id: format!("{:016x}", sampled.span_id()),
            };
            with_exemplars.observe(black_box(seconds[i]), Some(labels), None);
        });
    });
    group.finish();

    let mut group = c.benchmark_group("exemplars/traceparent");
    group.bench_function("valid", |b| {
        b.iter(|| TraceContext::from_traceparent(black_box(VALID)));
    });
    let invalid = VALID.replace('-', "_");
    group.bench_function("invalid", |b| {
        b.iter(|| TraceContext::from_traceparent(black_box(&invalid)));
    });
    group.finish();
}

/// 1,000 operations with a record in every default bucket; with `traced`, each record
/// carries a sampled trace, so every bucket holds an exemplar.
fn collector_of(traced: bool) -> MetricsCollector {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("a valid configuration");
    for n in 0..1_000u64 {
        let handle = collector.operation(&format!("operation_{n:04}"));
        for (i, &seconds) in observe_core::prometheus::DEFAULT_BUCKETS.iter().enumerate() {
            let duration = Duration::from_secs_f64(seconds * 0.9);
            match TraceContext::new((u128::from(n) << 64) | (i as u128 + 1), n + 1, true) {
                Some(trace) if traced => handle.record_traced(duration, Outcome::Ok, &trace),
                _ => handle.record_outcome(duration, Outcome::Ok),
            }
        }
    }
    collector
}

fn exposition(c: &mut Criterion) {
    let mut group = c.benchmark_group("exemplars/openmetrics_1000");
    group.sample_size(20);
    for (name, traced) in [("none", false), ("every_bucket", true)] {
        let collector = collector_of(traced);
        group.bench_function(name, |b| {
            b.iter(|| collector.encode_prometheus(ExpositionFormat::OpenMetrics));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = record, exposition
}
criterion_main!(benches);
