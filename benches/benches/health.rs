//! The cost of a cached health report: what a probe pays when it calls `/health` or
//! `/ready` thousands of times a second. Five checks, all cached (within their TTL), and
//! the same five past their TTL (served stale while one refresh runs). Target: under
//! 5 µs with five checks.
//!
//! ```text
//! cargo bench -p observe-benches --bench health
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use observe_core::MetricsCollector;
use observe_core::health::{CheckOptions, CheckResult, HealthRegistry, ReportOptions, fn_check};

fn registry(collector: &MetricsCollector, ttl: Duration) -> HealthRegistry {
    let mut builder = HealthRegistry::builder().collector(collector);
    for name in ["database", "redis", "system", "error_rate", "latency"] {
        builder = builder.check_with(
            fn_check(name, || async {
                CheckResult::healthy()
                    .with_detail("ping_ms", 0.4)
                    .with_detail("open_connections", 3)
            }),
            CheckOptions::new().ttl(ttl).ready(),
        );
    }
    builder.build().expect("five distinct names")
}

fn cached_report(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let collector = MetricsCollector::new();
    for i in 0..20 {
        collector.record_operation(&format!("op{i}"), Duration::from_millis(3), i % 7 == 0);
    }
    let options = ReportOptions::new();
    let mut group = c.benchmark_group("health");

    let fresh = registry(&collector, Duration::from_secs(3_600));
    runtime.block_on(fresh.report(&options));
    group.bench_function("report_5_checks_cached", |b| {
        b.iter(|| runtime.block_on(async { black_box(fresh.report(&options).await) }));
    });
    group.bench_function("readiness_5_checks_cached", |b| {
        b.iter(|| runtime.block_on(async { black_box(fresh.readiness(&options).await) }));
    });
    group.bench_function("report_5_checks_cached_json", |b| {
        b.iter(|| {
            runtime.block_on(async {
                black_box(serde_json::to_vec(&fresh.report(&options).await).expect("JSON"))
            })
        });
    });

    // A zero TTL: every call serves the last result and starts (or joins) a refresh.
    let stale = registry(&collector, Duration::ZERO);
    runtime.block_on(stale.report(&options));
    group.bench_function("report_5_checks_stale_while_revalidate", |b| {
        b.iter(|| runtime.block_on(async { black_box(stale.report(&options).await) }));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = cached_report
}
criterion_main!(benches);
