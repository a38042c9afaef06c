//! Integration tests of the health checks: caching and single flight, faults (panics,
//! hangs, timeouts, staleness), aggregation, the built-in checks against the real
//! PostgreSQL, SQLite and Redis (cut, stalled and restored through a TCP proxy), and
//! the Prometheus gauges.

#[path = "../support/proxy.rs"]
mod proxy;
#[path = "../support/services.rs"]
mod services;

mod aggregation;
mod caching;
mod collector_checks;
mod faults;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "prometheus")]
mod prometheus;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use observe_core::health::{CheckResult, FnCheck, HealthCheck, fn_check};

/// A check that counts its runs, takes `delay`, and answers what `answer` says for the
/// run number (1-based).
fn counting<A>(name: &str, delay: Duration, answer: A) -> (impl HealthCheck, Arc<AtomicU64>)
where
    A: Fn(u64) -> CheckResult + Send + Sync + 'static,
{
    let runs = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&runs);
    let answer = Arc::new(answer);
    let check: FnCheck<_> = fn_check(name, move || {
        let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let answer = Arc::clone(&answer);
        async move {
            tokio::time::sleep(delay).await;
            answer(run).with_detail("run", run)
        }
    });
    (check, runs)
}

fn run_of(result: &CheckResult) -> u64 {
    result
        .details
        .get("run")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}
