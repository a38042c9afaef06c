//! The dashboard's cost: one tick of the history sampler at 10 and 10,000 operations,
//! and one poll's JSON delta (its encode time, and its size printed once per case).
//!
//! ```text
//! cargo bench -p observe-benches --bench dashboard
//! ```
//!
//! A tick reads the counters of every operation (`for_each_count`), the process figures
//! (`process_stats_read`, measured alone as a peer) and the recent quantiles of the 12
//! busiest; a poll reuses the table of the last second (`poll_cached`) or builds it
//! again (`poll_fresh`: the summary, the top 200 rows and their JSON); `http_poll` is the
//! whole `GET dashboard/data?since=` through the service, health report included.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use http_body_util::{BodyExt, Empty};
use observe_core::MetricsCollector;
use observe_tower::MonitoringService;
use observe_tower::monitoring::{DashboardHistory, DetailsPolicy};
use tower::ServiceExt;

const SIZES: [usize; 2] = [10, 10_000];

fn collector(operations: usize) -> MetricsCollector {
    let collector = MetricsCollector::builder()
        .max_operations(operations + 10)
        .build()
        .expect("a collector");
    for i in 0..operations {
        let name = format!("GET /api/resource_{i}/{{id}}");
        for j in 0..20 {
            collector.record_operation(&name, Duration::from_micros(200 + 37 * j), j == 7);
        }
    }
    collector
}

/// Records into the first 20 operations, so that each interval has busy operations.
fn traffic(handles: &[observe_core::OperationHandle]) {
    for h in handles {
        h.record(Duration::from_micros(350), false);
    }
}

fn sampler(c: &mut Criterion) {
    let mut group = c.benchmark_group("dashboard");
    // A peer in the same run: what every tick pays to read /proc.
    group.bench_function("process_stats_read", |b| {
        b.iter(|| black_box(observe_core::ProcessStats::read()));
    });
    for n in SIZES {
        let collector = collector(n);
        let handles: Vec<_> = (0..n.min(20))
            .map(|i| collector.operation(&format!("GET /api/resource_{i}/{{id}}")))
            .collect();
        let history = DashboardHistory::new(&collector).interval(Duration::ZERO);
        // A full ring, as after 15 minutes.
        for _ in 0..180 {
            traffic(&handles);
            history.tick();
        }
        group.bench_function(format!("tick/{n}_operations"), |b| {
            b.iter(|| {
                traffic(&handles);
                black_box(history.tick())
            });
        });
        eprintln!(
            "dashboard/{n}_operations: history of 180 points holds ~{} KiB",
            history.memory_bytes() / 1024
        );

        // Polls: no point due (an hour's interval), the table of the last second reused.
        let polled = DashboardHistory::new(&collector).interval(Duration::from_secs(3600));
        let delta = polled.encode_since(Some(0));
        eprintln!(
            "dashboard/{n}_operations: delta without a new point {} bytes; full history {} bytes",
            delta.len(),
            history.encode_since(Some(0)).len(),
        );
        let one_point = history.encode_since(Some(history_seq(&history) - 1));
        eprintln!(
            "dashboard/{n}_operations: delta with one new point {} bytes",
            one_point.len()
        );
        group.bench_function(format!("poll_cached/{n}_operations"), |b| {
            b.iter(|| black_box(polled.encode_since(Some(0)).len()));
        });
        group.bench_function(format!("poll_fresh/{n}_operations"), |b| {
            b.iter_batched(
                || DashboardHistory::new(&collector).interval(Duration::from_secs(3600)),
                |fresh| black_box(fresh.encode_since(Some(0)).len()),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn history_seq(history: &DashboardHistory) -> u64 {
    let reply: serde_json::Value =
        serde_json::from_slice(&history.encode_since(Some(u64::MAX))).expect("JSON");
    reply["seq"].as_u64().expect("a sequence number")
}

/// The whole reply the page gets: the delta and the (cached) health report, through
/// the service.
fn http_poll(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("dashboard");
    for n in SIZES {
        let collector = collector(n);
        let service = MonitoringService::builder(&collector)
            .details(DetailsPolicy::Always)
            .with_dashboard()
            .build();
        let get = || {
            let service = service.clone();
            async move {
                let request = Request::get("/dashboard/data?since=0")
                    .body(Empty::<Bytes>::new())
                    .expect("a request");
                let response = service.oneshot(request).await.expect("infallible");
                response
                    .into_body()
                    .collect()
                    .await
                    .expect("a body")
                    .to_bytes()
                    .len()
            }
        };
        eprintln!(
            "dashboard/{n}_operations: GET dashboard/data reply {} bytes",
            runtime.block_on(get())
        );
        group.bench_function(format!("http_poll/{n}_operations"), |b| {
            b.iter(|| black_box(runtime.block_on(get())));
        });
    }
    group.finish();
}

criterion_group!(benches, sampler, http_poll);
criterion_main!(benches);
