//! Recording cost, in nanoseconds per recorded operation, of `observe-core` side by side
//! with the crates users would pick instead (`prometheus-client`, `prometheus`, and
//! `metrics` with `metrics-exporter-prometheus`), measured in the same run.
//!
//! Run with:
//!
//! ```text
//! export CARGO_TARGET_DIR=$HOME/.cache/observe-bench-target   # optional
//! cargo bench -p observe-benches --bench recording
//! cargo bench -p observe-benches --bench recording -- contention   # one group
//! ```
//!
//! Groups:
//!
//! - `record`: one thread. A floor (two `Instant::now()` and one relaxed `fetch_add`),
//!   the `Instant::now()` pair alone, then each library recording through a held handle
//!   and by name (100 names, or label sets, in rotation). Every row records the same
//!   1,024 durations, spread log-uniformly from 1 µs to 1 s, in rotation.
//! - `contention`: the same held-handle and by-name records, a bare shared
//!   `AtomicU64::fetch_add`, and the machine's floor (each thread adding to an
//!   `AtomicU64` of its own), on one thread and on two threads hitting the same operation.
//!   Each thread does the full iteration count after a barrier; the reported time runs
//!   from the first thread's start to the last one's end, so a row reads as nanoseconds
//!   per operation per thread. The two-thread rows mean something only when two cores are
//!   idle: on a busy machine the threads take turns and the row shows twice the cost.
//!
//! `metrics` histograms only append the value to a lock-free buffer when recording; the
//! bucketing happens when the exporter runs its upkeep (or renders). So the benches drain
//! that buffer every 65,536 records: `metrics/histogram_record` leaves the drain out of
//! the timing (the cost at the call site), `metrics/histogram_record_plus_upkeep` times it
//! too (the whole cost per value).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use observe_core::MetricsCollector;
use observe_core::prometheus::DEFAULT_BUCKETS;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;

/// How many distinct names (or label sets) the by-name rows rotate through.
const NAMES: usize = 100;
/// How many durations every row rotates through (a power of two).
const DURATIONS: usize = 1024;
/// Records between two drains of the `metrics` exporter's buffers.
const UPKEEP_EVERY: u64 = 1 << 16;

/// `DURATIONS` durations spread log-uniformly from 1 µs to 1 s.
fn durations() -> Vec<Duration> {
    (0..DURATIONS)
        .map(|i| {
            let exponent = 6.0 * i as f64 / DURATIONS as f64;
            Duration::from_nanos((1_000.0 * 10f64.powf(exponent)) as u64)
        })
        .collect()
}

/// The names of the by-name rows: `op_000` to `op_099`.
fn names() -> Vec<String> {
    (0..NAMES).map(|i| format!("op_{i:03}")).collect()
}

/// Cycles through `0..len` without a division.
struct Rotation {
    next: usize,
    len: usize,
}

impl Rotation {
    fn new(len: usize) -> Self {
        Self { next: 0, len }
    }

    #[inline]
    fn next(&mut self) -> usize {
        let i = self.next;
        self.next = if i + 1 == self.len { 0 } else { i + 1 };
        i
    }
}

/// The global `metrics` recorder (a `PrometheusRecorder` with observe's default buckets,
/// so it keeps histograms, not summaries), installed once; returns its handle.
fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(DEFAULT_BUCKETS)
            .expect("observe's default buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder)
            .expect("no other global recorder is installed in this bench");
        handle
    })
}

fn prometheus_client_histogram() -> PcHistogram {
    PcHistogram::new(DEFAULT_BUCKETS.iter().copied())
}

fn prometheus_histogram_opts() -> prometheus::HistogramOpts {
    prometheus::HistogramOpts::new("op_duration_seconds", "How long operations took.")
        .buckets(DEFAULT_BUCKETS.to_vec())
}

/// Runs `iters` records in chunks of `UPKEEP_EVERY`, draining the `metrics` exporter's
/// buffers after each chunk, inside the timing or not.
fn chunked_with_upkeep(iters: u64, time_upkeep: bool, mut record: impl FnMut(u64)) -> Duration {
    let handle = metrics_handle();
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = UPKEEP_EVERY.min(iters - done);
        let start = Instant::now();
        record(n);
        if time_upkeep {
            handle.run_upkeep();
            elapsed += start.elapsed();
        } else {
            elapsed += start.elapsed();
            handle.run_upkeep();
        }
        done += n;
    }
    elapsed
}

fn record(c: &mut Criterion) {
    let durations = durations();
    let names = names();
    let mut group = c.benchmark_group("record");

    // The floor: what any timer that counts something costs at least.
    let floor = AtomicU64::new(0);
    group.bench_function("floor/instant_pair_fetch_add", |b| {
        b.iter(|| {
            let start = Instant::now();
            let end = Instant::now();
            floor.fetch_add((end - start).as_nanos() as u64, Relaxed);
        });
    });
    group.bench_function("std/instant_pair", |b| {
        b.iter(|| {
            let start = Instant::now();
            black_box(Instant::now() - start)
        });
    });

    // observe
    let collector = MetricsCollector::new();
    let handle = collector.operation("x");
    group.bench_function("observe/handle_record", |b| {
        let mut d = Rotation::new(DURATIONS);
        b.iter(|| handle.record(durations[d.next()], false));
    });
    group.bench_function("observe/timer_start_end", |b| {
        b.iter(|| black_box(handle.start_timer().end_ok()));
    });
    for name in &names {
        collector.record_operation(name, Duration::from_micros(1), false);
    }
    group.bench_function("observe/record_by_name_100", |b| {
        let (mut d, mut n) = (Rotation::new(DURATIONS), Rotation::new(NAMES));
        b.iter(|| collector.record_operation(&names[n.next()], durations[d.next()], false));
    });

    // prometheus-client
    let histogram = prometheus_client_histogram();
    group.bench_function("prometheus_client/histogram_observe", |b| {
        let mut d = Rotation::new(DURATIONS);
        b.iter(|| histogram.observe(durations[d.next()].as_secs_f64()));
    });
    let family =
        Family::<Vec<(String, String)>, PcHistogram, fn() -> PcHistogram>::new_with_constructor(
            prometheus_client_histogram,
        );
    let label_sets: Vec<Vec<(String, String)>> = names
        .iter()
        .map(|name| vec![("operation".to_owned(), name.clone())])
        .collect();
    for labels in &label_sets {
        family.get_or_create(labels).observe(1e-6);
    }
    group.bench_function("prometheus_client/family_get_or_create_100", |b| {
        let (mut d, mut n) = (Rotation::new(DURATIONS), Rotation::new(NAMES));
        b.iter(|| {
            family
                .get_or_create(&label_sets[n.next()])
                .observe(durations[d.next()].as_secs_f64());
        });
    });

    // prometheus
    let histogram = prometheus::Histogram::with_opts(prometheus_histogram_opts())
        .expect("valid histogram options");
    group.bench_function("prometheus/histogram_observe", |b| {
        let mut d = Rotation::new(DURATIONS);
        b.iter(|| histogram.observe(durations[d.next()].as_secs_f64()));
    });
    let vec = prometheus::HistogramVec::new(prometheus_histogram_opts(), &["operation"])
        .expect("valid histogram options");
    for name in &names {
        vec.with_label_values(&[name.as_str()]).observe(1e-6);
    }
    group.bench_function("prometheus/histogram_vec_with_label_values_100", |b| {
        let (mut d, mut n) = (Rotation::new(DURATIONS), Rotation::new(NAMES));
        b.iter(|| {
            vec.with_label_values(&[names[n.next()].as_str()])
                .observe(durations[d.next()].as_secs_f64());
        });
    });

    // metrics + metrics-exporter-prometheus. Label values must be `'static` (or owned,
    // which allocates on every call); operation names are literals in real code, so the
    // names are leaked once to give the cheapest by-name call a user can write.
    metrics_handle();
    let histogram = metrics::histogram!("op_duration_seconds", "operation" => "x");
    for (timed_upkeep, id) in [
        (false, "metrics/histogram_record"),
        (true, "metrics/histogram_record_plus_upkeep"),
    ] {
        group.bench_function(id, |b| {
            let mut d = Rotation::new(DURATIONS);
            b.iter_custom(|iters| {
                chunked_with_upkeep(iters, timed_upkeep, |n| {
                    for _ in 0..n {
                        histogram.record(durations[d.next()].as_secs_f64());
                    }
                })
            });
        });
    }
    let static_names: Vec<&'static str> = names
        .iter()
        .map(|name| &*Box::leak(name.clone().into_boxed_str()))
        .collect();
    group.bench_function("metrics/histogram_macro_by_name_100", |b| {
        let (mut d, mut n) = (Rotation::new(DURATIONS), Rotation::new(NAMES));
        b.iter_custom(|iters| {
            chunked_with_upkeep(iters, false, |count| {
                for _ in 0..count {
                    metrics::histogram!("op_duration_seconds", "operation" => static_names[n.next()])
                        .record(durations[d.next()].as_secs_f64());
                }
            })
        });
    });

    group.finish();
}

/// Runs `work(iters)` on `threads` threads released together by a barrier; returns the
/// time from the first thread's start to the last thread's end, so the result reads as
/// time per operation per thread. Threads that did not actually overlap (a busy machine)
/// show up as slower, never as free.
fn on_threads(threads: usize, iters: u64, work: &(impl Fn(u64) + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    work(iters);
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<(Instant, Instant)> = running
            .into_iter()
            .map(|thread| thread.join().expect("a bench thread panicked"))
            .collect();
        let first_start = spans.iter().map(|span| span.0).min();
        let last_end = spans.iter().map(|span| span.1).max();
        match (first_start, last_end) {
            (Some(start), Some(end)) => end - start,
            _ => Duration::ZERO,
        }
    })
}

fn contention(c: &mut Criterion) {
    let durations = durations();
    let d = |i: u64| durations[i as usize & (DURATIONS - 1)];
    let mut group = c.benchmark_group("contention");

    let collector = MetricsCollector::new();
    let handle = collector.operation("x");
    let counter = AtomicU64::new(0);
    let pc_histogram = prometheus_client_histogram();
    let prom_histogram = prometheus::Histogram::with_opts(prometheus_histogram_opts())
        .expect("valid histogram options");
    metrics_handle();
    let metrics_histogram = metrics::histogram!("op_duration_seconds", "operation" => "x");

    thread_local! {
        /// Each thread's own counter: nothing shared, the floor of two threads here.
        static OWN: AtomicU64 = const { AtomicU64::new(0) };
    }
    for threads in [1, 2] {
        group.bench_function(BenchmarkId::new("atomic/fetch_add_own", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|n| {
                    OWN.with(|own| {
                        for i in 0..n {
                            own.fetch_add(d(i).as_nanos() as u64, Relaxed);
                        }
                    });
                })
            });
        });
        group.bench_function(BenchmarkId::new("atomic/fetch_add", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|n| {
                    for i in 0..n {
                        counter.fetch_add(d(i).as_nanos() as u64, Relaxed);
                    }
                })
            });
        });
        group.bench_function(BenchmarkId::new("observe/handle_record", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|n| {
                    for i in 0..n {
                        handle.record(d(i), false);
                    }
                })
            });
        });
        group.bench_function(BenchmarkId::new("observe/record_by_name", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|n| {
                    for i in 0..n {
                        collector.record_operation("x", d(i), false);
                    }
                })
            });
        });
        group.bench_function(
            BenchmarkId::new("prometheus_client/histogram_observe", threads),
            |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, &|n| {
                        for i in 0..n {
                            pc_histogram.observe(d(i).as_secs_f64());
                        }
                    })
                });
            },
        );
        group.bench_function(
            BenchmarkId::new("prometheus/histogram_observe", threads),
            |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, &|n| {
                        for i in 0..n {
                            prom_histogram.observe(d(i).as_secs_f64());
                        }
                    })
                });
            },
        );
        group.bench_function(BenchmarkId::new("metrics/histogram_record", threads), |b| {
            b.iter_custom(|iters| {
                let elapsed = on_threads(threads, iters, &|n| {
                    for i in 0..n {
                        metrics_histogram.record(d(i).as_secs_f64());
                    }
                });
                metrics_handle().run_upkeep();
                elapsed
            });
        });
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
    targets = record, contention
}
criterion_main!(benches);
