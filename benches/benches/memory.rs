//! Memory of one operation entry, by the durations it records: creates 1,000 operations
//! of each shape and prints the bytes per entry, as `observe-core` accounts for them
//! ([`MetricsCollector::memory_usage`]) and as the process's resident memory grew. The
//! shapes: a single duration (1 ms), one decade (1 ms to 10 ms), three decades (100 µs
//! to 100 ms) and the worst case (16 ns to 2 h, every chunk of the histogram), each
//! spread log-uniformly over enough steps to reach every fine bucket of its range. For
//! context it prints the resident growth of 1,000 histogram series with
//! `prometheus-client`, `prometheus` and `metrics-exporter-prometheus` too (same 15
//! buckets, three decades). Not a criterion bench: a plain `main` that prints figures.
//!
//! It also prints what striping adds (the size of one operation that every core records
//! at once, which spreads over a stripe per core, and the most that the default budget
//! of striped operations can add to a collector on this machine), and the resident
//! growth of a flood of 1,000,000 distinct names, one record each, into a collector at
//! the default cap of 10,000 names.
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
//! Every row keeps what it built until the end, so no row reuses another's freed pages.

use std::hint::black_box;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use observe_core::MetricsCollector;
use observe_core::prometheus::DEFAULT_BUCKETS;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;

/// How many operations (or series) to create per shape.
const OPERATIONS: usize = 1_000;
/// How many distinct names the flood records.
const FLOOD: usize = 1_000_000;

/// The durations an operation records: `steps` spread log-uniformly over `from..=to`.
#[derive(Clone, Copy)]
struct Shape {
    row: &'static str,
    from: Duration,
    to: Duration,
    steps: usize,
    target: &'static str,
}

impl Shape {
    fn durations(self) -> impl Iterator<Item = Duration> {
        let (from, to) = (self.from.as_nanos() as f64, self.to.as_nanos() as f64);
        let ratio = (to / from).ln();
        let last = self.steps.saturating_sub(1).max(1) as f64;
        (0..self.steps).map(move |i| {
            Duration::from_nanos((from * (ratio * i as f64 / last).exp()).round() as u64)
        })
    }
}

const SHAPES: [Shape; 4] = [
    Shape {
        row: "one_duration",
        from: Duration::from_millis(1),
        to: Duration::from_millis(1),
        steps: 1,
        target: "at most 2 KiB",
    },
    Shape {
        row: "one_decade",
        from: Duration::from_millis(1),
        to: Duration::from_millis(10),
        steps: 500,
        target: "",
    },
    Shape {
        row: "three_decades",
        from: Duration::from_micros(100),
        to: Duration::from_millis(100),
        steps: 1_500,
        target: "at most 4 KiB",
    },
    Shape {
        row: "worst",
        from: Duration::from_nanos(16),
        to: Duration::from_secs(7_200),
        steps: 4_000,
        target: "at most 16 KiB",
    },
];

/// The resident set size of this process, in bytes, where `/proc` has it.
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn names() -> Vec<String> {
    (0..OPERATIONS)
        .map(|i| format!("operation_{i:05}"))
        .collect()
}

/// Prints the resident growth of building something with `build`, per one of `count`.
fn print_rss_growth<T>(row: &str, count: usize, build: impl FnOnce() -> T) -> T {
    let before = rss_bytes();
    let built = build();
    if let (Some(before), Some(after)) = (before, rss_bytes()) {
        let grown = after.saturating_sub(before);
        println!(
            "memory/{row}: resident growth {grown} bytes ({:.1} MiB) for {count} = {} bytes \
             per series",
            grown as f64 / 1024.0 / 1024.0,
            grown / count
        );
    }
    built
}

/// Builds `OPERATIONS` operations recording `shape`, and prints both figures.
fn print_shape(names: &[String], shape: Shape) -> MetricsCollector {
    let row = format!("observe/{}", shape.row);
    let durations: Vec<Duration> = shape.durations().collect();
    let collector = print_rss_growth(&row, OPERATIONS, || {
        let collector = MetricsCollector::new();
        for name in names {
            let handle = collector.operation(name);
            for (i, &d) in durations.iter().enumerate() {
                handle.record(d, i % 10 == 0);
            }
        }
        collector
    });
    let total = collector.memory_usage();
    let per_entry = total / collector.len();
    println!(
        "memory/{row}/memory_usage: {per_entry} bytes ({:.2} KiB) per operation entry, \
         {} to {} in {} steps{}{}",
        per_entry as f64 / 1024.0,
        observe_core::human_duration(shape.from),
        observe_core::human_duration(shape.to),
        shape.steps,
        if shape.target.is_empty() {
            ""
        } else {
            "; target "
        },
        shape.target,
    );
    collector
}

/// The size of one operation that every core records at once, so that it spreads.
fn print_striped_entry() -> MetricsCollector {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let collector = MetricsCollector::new();
    let handle = collector.operation("contended");
    let durations: Vec<Duration> = SHAPES[2].durations().collect();
    for &d in &durations {
        handle.record(d, false);
    }
    let alone = collector.memory_usage();
    // Rounds until the threads have collided enough to spread (on a busy machine they
    // may take turns for a while), at most 50.
    for _ in 0..50 {
        std::thread::scope(|scope| {
            for _ in 0..cores {
                scope.spawn(|| {
                    for i in 0..200_000 {
                        handle.record(durations[i % durations.len()], false);
                    }
                });
            }
        });
        if collector.memory_usage() > alone || cores < 2 {
            break;
        }
    }
    let striped = collector.memory_usage();
    let stripes = cores.min(16);
    let per_stripe = striped.saturating_sub(alone) / stripes.saturating_sub(1).max(1);
    println!(
        "memory/observe/striped_entry: {striped} bytes ({:.2} KiB) for one three-decade \
         operation recorded by {cores} threads at once, against {alone} bytes alone: \
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
    collector
}

/// A million distinct names, one record each, into a collector at the default cap.
fn print_flood() -> MetricsCollector {
    let collector = print_rss_growth("observe/flood_1m_names", FLOOD, || {
        let collector = MetricsCollector::new();
        let mut name = String::new();
        for i in 0..FLOOD {
            use std::fmt::Write;
            name.clear();
            let _ = write!(name, "flood_name_{i:07}");
            // Durations from 100 µs to about 100 ms, one per name.
            let d = Duration::from_micros(100 + (i as u64 * 7_919) % 100_000);
            collector.record_operation(&name, d, false);
        }
        collector
    });
    println!(
        "memory/observe/flood_1m_names: {} entries kept (default cap), memory_usage {} bytes \
         ({:.1} MiB); target resident growth at most 48 MiB",
        collector.len(),
        collector.memory_usage(),
        collector.memory_usage() as f64 / 1024.0 / 1024.0
    );
    collector
}

fn main() {
    let names = names();
    let shapes: Vec<MetricsCollector> = SHAPES
        .iter()
        .map(|&shape| print_shape(&names, shape))
        .collect();
    let striped = print_striped_entry();
    let flood = print_flood();

    let three_decades: Vec<f64> = SHAPES[2].durations().map(|d| d.as_secs_f64()).collect();
    let family = print_rss_growth("prometheus_client/histogram_family", OPERATIONS, || {
        let family =
            Family::<Vec<(String, String)>, PcHistogram, fn() -> PcHistogram>::new_with_constructor(
                || PcHistogram::new(DEFAULT_BUCKETS.iter().copied()),
            );
        for name in &names {
            let histogram = family.get_or_create(&vec![("operation".to_owned(), name.clone())]);
            for &d in &three_decades {
                histogram.observe(d);
            }
        }
        family
    });

    let vec = print_rss_growth("prometheus/histogram_vec", OPERATIONS, || {
        let opts = prometheus::HistogramOpts::new("op_duration_seconds", "How long.")
            .buckets(DEFAULT_BUCKETS.to_vec());
        let vec =
            prometheus::HistogramVec::new(opts, &["operation"]).expect("valid histogram options");
        for name in &names {
            let histogram = vec.with_label_values(&[name.as_str()]);
            for &d in &three_decades {
                histogram.observe(d);
            }
        }
        vec
    });

    let recorder = print_rss_growth("metrics_exporter_prometheus/histograms", OPERATIONS, || {
        let recorder = PrometheusBuilder::new()
            .set_buckets(DEFAULT_BUCKETS)
            .expect("observe's default buckets are valid")
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            for name in &names {
                let histogram =
                    metrics::histogram!("op_duration_seconds", "operation" => name.clone());
                for &d in &three_decades {
                    histogram.record(d);
                }
            }
        });
        // Drain the raw values into the buckets, as the exporter's upkeep would.
        recorder.handle().run_upkeep();
        recorder
    });

    black_box((&shapes, &striped, &flood, &family, &vec, &recorder));
}
