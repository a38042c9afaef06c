//! Memory of one operation entry: creates 1,000 operations, each recording durations
//! spread from 1 µs to 1 h, and prints the bytes per entry, as `observe-core` accounts for
//! them ([`MetricsCollector::memory_usage`]) and as the process's resident memory grew.
//! For context it prints the resident growth of 1,000 histogram series with
//! `prometheus-client`, `prometheus` and `metrics-exporter-prometheus` too (same 15
//! buckets). Not a criterion bench: a plain `main` that prints figures.
//!
//! It also prints what striping adds: the size of one operation that two threads record
//! at once, which spreads over a stripe per core, and the most that the default budget
//! of striped operations can add to a collector on this machine.
//!
//! Run with:
//!
//! ```text
//! export CARGO_TARGET_DIR=$HOME/.cache/observe-bench-target   # optional
//! cargo bench -p observe-benches --bench memory
//! ```
//!
//! Resident growth is read from `VmRSS` in `/proc/self/status` (Linux only; elsewhere
//! those lines are skipped). It counts whole pages and only pages touched, so it is a
//! lower bound of what was allocated; `memory_usage()` counts what the entry allocated.

use std::hint::black_box;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use observe_core::MetricsCollector;
use observe_core::prometheus::DEFAULT_BUCKETS;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;

/// How many operations (or series) to create.
const OPERATIONS: usize = 1_000;
/// How many durations each operation records.
const RECORDS_PER_OPERATION: usize = 200;

/// The resident set size of this process, in bytes, where `/proc` has it.
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The `i`-th of `RECORDS_PER_OPERATION` durations spread log-uniformly from 1 µs to 1 h.
fn duration(i: usize) -> Duration {
    let exponent = (3_600.0e6_f64).log10() * i as f64 / (RECORDS_PER_OPERATION - 1) as f64;
    Duration::from_nanos((1_000.0 * 10f64.powf(exponent)) as u64)
}

fn names() -> Vec<String> {
    (0..OPERATIONS)
        .map(|i| format!("operation_{i:05}"))
        .collect()
}

/// Prints the resident growth of building something with `build`, per series.
fn print_rss_growth<T>(row: &str, build: impl FnOnce() -> T) -> T {
    let before = rss_bytes();
    let built = build();
    if let (Some(before), Some(after)) = (before, rss_bytes()) {
        let grown = after.saturating_sub(before);
        println!(
            "memory/{row}: resident growth {grown} bytes for {OPERATIONS} = {} bytes per series",
            grown / OPERATIONS
        );
    }
    built
}

/// The size of one operation that every core records at once, so that it spreads.
fn print_striped_entry() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let collector = MetricsCollector::new();
    let handle = collector.operation("contended");
    let alone = collector.memory_usage();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                for i in 0..200_000 {
                    handle.record(duration(i % RECORDS_PER_OPERATION), false);
                }
            });
        }
    });
    let striped = collector.memory_usage();
    let stripes = cores.min(16);
    let per_stripe = striped.saturating_sub(alone) / stripes.saturating_sub(1).max(1);
    println!(
        "memory/observe/striped_entry: {striped} bytes ({:.2} KiB) for one operation \
         recorded by {cores} threads at once, against {alone} bytes alone: \
         {per_stripe} bytes per extra stripe",
        striped as f64 / 1024.0
    );
    println!(
        "memory/observe/striping_bound: at most 64 striped operations (the default \
         budget) x {} extra stripes x {per_stripe} bytes = {} bytes ({:.2} MiB) on this \
         machine; {:.2} MiB on 16 cores",
        stripes.saturating_sub(1),
        64 * stripes.saturating_sub(1) * per_stripe,
        (64 * stripes.saturating_sub(1) * per_stripe) as f64 / 1024.0 / 1024.0,
        (64 * 15 * per_stripe) as f64 / 1024.0 / 1024.0,
    );
}

fn main() {
    let names = names();

    let collector = print_rss_growth("observe/operations", || {
        let collector = MetricsCollector::new();
        for name in &names {
            let handle = collector.operation(name);
            for i in 0..RECORDS_PER_OPERATION {
                handle.record(duration(i), i % 10 == 0);
            }
        }
        collector
    });
    let total = collector.memory_usage();
    let per_entry = total / collector.len();
    println!(
        "memory/observe/memory_usage: {total} bytes for {} operations = {per_entry} bytes \
         ({:.2} KiB) per operation entry; target at most 16 KiB",
        collector.len(),
        per_entry as f64 / 1024.0
    );
    println!(
        "memory/observe/recorded: {} to {} in {RECORDS_PER_OPERATION} steps per operation",
        observe_core::human_duration(duration(0)),
        observe_core::human_duration(duration(RECORDS_PER_OPERATION - 1)),
    );

    print_striped_entry();

    let family = print_rss_growth("prometheus_client/histogram_family", || {
        let family =
            Family::<Vec<(String, String)>, PcHistogram, fn() -> PcHistogram>::new_with_constructor(
                || PcHistogram::new(DEFAULT_BUCKETS.iter().copied()),
            );
        for name in &names {
            let histogram = family.get_or_create(&vec![("operation".to_owned(), name.clone())]);
            for i in 0..RECORDS_PER_OPERATION {
                histogram.observe(duration(i).as_secs_f64());
            }
        }
        family
    });

    let vec = print_rss_growth("prometheus/histogram_vec", || {
        let opts = prometheus::HistogramOpts::new("op_duration_seconds", "How long.")
            .buckets(DEFAULT_BUCKETS.to_vec());
        let vec =
            prometheus::HistogramVec::new(opts, &["operation"]).expect("valid histogram options");
        for name in &names {
            let histogram = vec.with_label_values(&[name.as_str()]);
            for i in 0..RECORDS_PER_OPERATION {
                histogram.observe(duration(i).as_secs_f64());
            }
        }
        vec
    });

    let recorder = print_rss_growth("metrics_exporter_prometheus/histograms", || {
        let recorder = PrometheusBuilder::new()
            .set_buckets(DEFAULT_BUCKETS)
            .expect("observe's default buckets are valid")
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            for name in &names {
                let histogram =
                    metrics::histogram!("op_duration_seconds", "operation" => name.clone());
                for i in 0..RECORDS_PER_OPERATION {
                    histogram.record(duration(i).as_secs_f64());
                }
            }
        });
        // Drain the raw values into the buckets, as the exporter's upkeep would.
        recorder.handle().run_upkeep();
        recorder
    });

    black_box((&collector, &family, &vec, &recorder));
}
