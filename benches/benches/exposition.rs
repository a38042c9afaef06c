//! Exposition cost: encoding 1,000 and 10,000 operations as Prometheus text with
//! `observe-core`, side by side with `prometheus-client`, `prometheus` and
//! `metrics-exporter-prometheus` encoding the same number of histogram series (same 15
//! `le` boundaries, one `operation` label), measured in the same run; and as Prometheus
//! protobuf, classic and with native buckets (schema 3), beside `prometheus-client`'s
//! own protobuf encoder writing the same four families (its
//! `Histogram::new_classic_and_native` for the native rows).
//!
//! `observe/prometheus_text` and the protobuf rows encode into the collector's reused
//! buffer (`encode_exposition`, what `MonitoringService` serves); the
//! `observe/prometheus_text_string` row returns a fresh `String` (`encode_prometheus`).
//!
//! Run with:
//!
//! ```text
//! export CARGO_TARGET_DIR=$HOME/.cache/observe-bench-target   # optional
//! cargo bench -p observe-benches --bench exposition
//! ```
//!
//! Throughput is set to the number of series, so criterion prints series per second and
//! the time divided by the series count is nanoseconds per series. The output size of
//! every row is printed once, during setup, as `exposition/<series>/<row>: <bytes>`.
//!
//! For each operation observe exports three counters (count, errors, cancelled) besides
//! the histogram; the row `prometheus_client/histogram_and_3_counters` encodes the same
//! four families with `prometheus-client`, so that the like-for-like comparison is there
//! too. Every row uses observe's family names and help texts, so output sizes compare. Process metrics are turned off on the observe collector: their cost is per scrape,
//! not per series.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use observe_core::prometheus::{DEFAULT_BUCKETS, ExpositionFormat};
use prometheus_client::metrics::histogram::Histogram as PcHistogram;
use prometheus_client::registry::Registry;

#[path = "support/series.rs"]
mod series;

use series::{
    RECORDED, names, observe_collector, prometheus_client_histogram,
    prometheus_client_native_histogram, prometheus_client_registry_of,
};

/// A `prometheus-client` registry with one classic histogram family, and the three
/// counter families observe also exports when `with_counters`.
fn prometheus_client_registry(names: &[String], with_counters: bool) -> Registry {
    prometheus_client_registry_of(names, with_counters, prometheus_client_histogram)
}

fn prometheus_registry(names: &[String]) -> prometheus::Registry {
    let opts = prometheus::HistogramOpts::new(
        "observe_operation_duration_seconds",
        "How long operations took.",
    )
    .buckets(DEFAULT_BUCKETS.to_vec());
    let vec = prometheus::HistogramVec::new(opts, &["operation"]).expect("valid histogram options");
    for name in names {
        let histogram = vec.with_label_values(&[name.as_str()]);
        for duration in RECORDED {
            histogram.observe(duration.as_secs_f64());
        }
    }
    let registry = prometheus::Registry::new();
    registry
        .register(Box::new(vec))
        .expect("one collector, registered once");
    registry
}

fn prometheus_encode(registry: &prometheus::Registry) -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .expect("encoding to a String does not fail")
}

fn metrics_handle(names: &[String]) -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets(DEFAULT_BUCKETS)
        .expect("observe's default buckets are valid")
        .build_recorder();
    metrics::with_local_recorder(&recorder, || {
        for name in names {
            let histogram = metrics::histogram!("observe_operation_duration_seconds", "operation" => name.clone());
            for duration in RECORDED {
                histogram.record(duration.as_secs_f64());
            }
        }
    });
    recorder.handle()
}

fn print_size(series: usize, row: &str, text: &str) {
    println!(
        "exposition/{series}/{row}: {} bytes, {} bytes per series, {} lines",
        text.len(),
        text.len() / series,
        text.lines().count()
    );
}

fn print_bytes(series: usize, row: &str, bytes: &[u8]) {
    println!(
        "exposition/{series}/{row}: {} bytes, {} bytes per series",
        bytes.len(),
        bytes.len() / series
    );
}

fn exposition(c: &mut Criterion) {
    let mut group = c.benchmark_group("exposition");
    group.sampling_mode(SamplingMode::Flat);

    for series in [1_000, 10_000] {
        let names = names(series);
        group.throughput(Throughput::Elements(series as u64));

        let collector = observe_collector(&names, false);
        for (format, row) in [
            (ExpositionFormat::Prometheus, "observe/prometheus_text"),
            (ExpositionFormat::OpenMetrics, "observe/openmetrics_text"),
        ] {
            // Dropped at the end of each iteration: the buffer goes back for the next.
            let encode = || {
                collector
                    .encode_exposition(format)
                    .expect("no user collector to fail")
            };
            print_bytes(series, row, &encode());
            group.bench_function(BenchmarkId::new(row, series), |b| {
                b.iter(|| black_box(encode()));
            });
        }
        let row = "observe/prometheus_text_string";
        let encode = || {
            collector
                .encode_prometheus(ExpositionFormat::Prometheus)
                .expect("no user collector to fail")
        };
        print_size(series, row, &encode());
        group.bench_function(BenchmarkId::new(row, series), |b| {
            b.iter(|| black_box(encode()));
        });

        for (native, row) in [
            (false, "observe/protobuf"),
            (true, "observe/protobuf_native"),
        ] {
            let collector = observe_collector(&names, native);
            let encode = || {
                collector
                    .encode_protobuf()
                    .expect("no user collector to fail")
            };
            print_bytes(series, row, &encode());
            group.bench_function(BenchmarkId::new(row, series), |b| {
                b.iter(|| black_box(encode()));
            });
        }
        for (histogram, row) in [
            (
                prometheus_client_histogram as fn() -> PcHistogram,
                "prometheus_client/protobuf_histogram_and_3_counters",
            ),
            (
                prometheus_client_native_histogram,
                "prometheus_client/protobuf_native_histogram_and_3_counters",
            ),
        ] {
            let registry = prometheus_client_registry_of(&names, true, histogram);
            let encode = || {
                prometheus_client::encoding::prometheus_protobuf::encode_to_vec(&registry)
                    .expect("encoding to a Vec does not fail")
            };
            print_bytes(series, row, &encode());
            group.bench_function(BenchmarkId::new(row, series), |b| {
                b.iter(|| black_box(encode()));
            });
        }

        for (with_counters, row) in [
            (false, "prometheus_client/histogram"),
            (true, "prometheus_client/histogram_and_3_counters"),
        ] {
            let registry = prometheus_client_registry(&names, with_counters);
            let encode = || {
                let mut text = String::new();
                prometheus_client::encoding::text::encode(&mut text, &registry)
                    .expect("encoding to a String does not fail");
                text
            };
            print_size(series, row, &encode());
            group.bench_function(BenchmarkId::new(row, series), |b| {
                b.iter(|| black_box(encode()));
            });
        }

        let registry = prometheus_registry(&names);
        print_size(
            series,
            "prometheus/text_encoder",
            &prometheus_encode(&registry),
        );
        group.bench_function(BenchmarkId::new("prometheus/text_encoder", series), |b| {
            b.iter(|| black_box(prometheus_encode(&registry)));
        });

        let handle = metrics_handle(&names);
        print_size(
            series,
            "metrics_exporter_prometheus/render",
            &handle.render(),
        );
        group.bench_function(
            BenchmarkId::new("metrics_exporter_prometheus/render", series),
            |b| {
                b.iter(|| black_box(handle.render()));
            },
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = exposition
}
criterion_main!(benches);
