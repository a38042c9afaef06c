//! Single flight, TTL caching, stale-while-revalidate, maximum age, damping and the
//! background mode, on Tokio's paused clock (no test sleeps in real time).

use std::sync::atomic::Ordering;
use std::time::Duration;

use observe_core::health::{
    CheckOptions, CheckResult, HealthRegistry, HealthStatus, ReportOptions,
};
use tokio::time::Instant;

use super::{counting, run_of};

fn report_options() -> ReportOptions {
    ReportOptions::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_reports_run_each_check_once() {
    let (slow, slow_runs) = counting("slow", Duration::from_millis(100), |_| {
        CheckResult::healthy()
    });
    let (fast, fast_runs) = counting("fast", Duration::ZERO, |_| CheckResult::healthy());
    let registry = HealthRegistry::builder()
        .check_with(slow, CheckOptions::new().ttl(Duration::from_secs(60)))
        .check_with(fast, CheckOptions::new().ttl(Duration::from_secs(60)))
        .build()
        .expect("valid");
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let registry = registry.clone();
        callers.spawn(async move { registry.report(&report_options()).await });
    }
    let mut reports = 0;
    while let Some(report) = callers.join_next().await {
        let report = report.expect("a caller finished");
        assert_eq!(report.status, HealthStatus::Healthy);
        assert_eq!(run_of(&report.checks["slow"].result), 1);
        reports += 1;
    }
    assert_eq!(reports, 1_000);
    assert_eq!(
        slow_runs.load(Ordering::SeqCst),
        1,
        "the slow check ran once"
    );
    assert_eq!(
        fast_runs.load(Ordering::SeqCst),
        1,
        "the fast check ran once"
    );
    assert_eq!(registry.runs("slow"), Some(1));
}

#[tokio::test(start_paused = true)]
async fn results_are_cached_for_the_ttl_then_served_stale_while_one_refresh_runs() {
    let (check, runs) = counting("db", Duration::from_millis(50), |_| CheckResult::healthy());
    let registry = HealthRegistry::builder()
        .check_with(check, CheckOptions::new().ttl(Duration::from_secs(1)))
        .build()
        .expect("valid");

    let first = registry.report(&report_options()).await;
    assert_eq!(run_of(&first.checks["db"].result), 1);
    tokio::time::advance(Duration::from_millis(500)).await;
    let cached = registry.report(&report_options()).await;
    assert_eq!(run_of(&cached.checks["db"].result), 1);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "within the TTL nothing runs"
    );

    tokio::time::advance(Duration::from_millis(600)).await;
    let started = Instant::now();
    let stale = registry.report(&report_options()).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "a stale result is served without waiting"
    );
    assert_eq!(run_of(&stale.checks["db"].result), 1);
    let again = registry.report(&report_options()).await;
    assert_eq!(run_of(&again.checks["db"].result), 1);
    assert_eq!(
        registry.runs("db"),
        Some(2),
        "one refresh started for both callers"
    );

    tokio::time::sleep(Duration::from_millis(60)).await;
    let fresh = registry.report(&report_options()).await;
    assert_eq!(run_of(&fresh.checks["db"].result), 2);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_refresh_shows_unhealthy_by_its_timeout_while_callers_never_wait() {
    let (check, _) = counting("db", Duration::ZERO, |_| CheckResult::healthy());
    // Run 1 answers; every later run hangs.
    let hanging = observe_core::health::fn_check("hangs_later", {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        move || {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if run > 1 {
                    std::future::pending::<()>().await;
                }
                CheckResult::healthy()
            }
        }
    });
    let options = CheckOptions::new()
        .ttl(Duration::from_secs(1))
        .timeout(Duration::from_secs(2));
    let registry = HealthRegistry::builder()
        .check_with(check, options.clone())
        .check_with(hanging, options)
        .build()
        .expect("valid");

    assert_eq!(
        registry.report(&report_options()).await.status,
        HealthStatus::Healthy
    );
    tokio::time::advance(Duration::from_millis(1_100)).await;
    let started = Instant::now();
    let report = registry.report(&report_options()).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "served from cache while the refresh hangs"
    );
    assert_eq!(
        report.checks["hangs_later"].result.status,
        HealthStatus::Healthy
    );

    // TTL + timeout later, the timed-out refresh has stored its unhealthy result.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let report = registry.report(&report_options()).await;
    let hung = &report.checks["hangs_later"].result;
    assert_eq!(hung.status, HealthStatus::Unhealthy);
    assert!(
        hung.error
            .as_deref()
            .is_some_and(|e| e.contains("timed out after 2s")),
        "{hung:?}"
    );
    assert_eq!(report.status, HealthStatus::Unhealthy);
}

#[tokio::test(start_paused = true)]
async fn a_result_no_refresh_replaced_turns_unhealthy_as_stale_after_the_maximum_age() {
    let (check, runs) = counting("db", Duration::ZERO, |_| CheckResult::healthy());
    let registry = HealthRegistry::builder()
        .check(check)
        .max_age(Duration::from_secs(5))
        .build()
        .expect("valid");
    // Background refreshes once an hour: nothing replaces the first result for long.
    let background = tokio::spawn(registry.background(Duration::from_secs(3_600)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let young = registry.report(&report_options()).await;
    assert_eq!(young.checks["db"].result.status, HealthStatus::Healthy);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let old = registry.report(&report_options()).await;
    let stale = &old.checks["db"].result;
    assert_eq!(stale.status, HealthStatus::Unhealthy);
    assert!(
        stale
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("stale:") && e.contains("healthy")),
        "{stale:?}"
    );
    assert_eq!(
        registry.last_results()["db"].result.status,
        HealthStatus::Unhealthy
    );
    background.abort();
}

#[tokio::test(start_paused = true)]
async fn after_a_long_idle_a_report_waits_for_a_fresh_run_instead_of_calling_it_stale() {
    let (check, runs) = counting("db", Duration::from_millis(20), |_| CheckResult::healthy());
    let registry = HealthRegistry::builder()
        .check(check)
        .max_age(Duration::from_secs(30))
        .build()
        .expect("valid");
    assert_eq!(
        run_of(&registry.report(&report_options()).await.checks["db"].result),
        1
    );
    tokio::time::sleep(Duration::from_secs(40)).await;
    // Idle: the gauges show the last result as it was; nothing asked for a refresh.
    assert_eq!(
        registry.last_results()["db"].result.status,
        HealthStatus::Healthy
    );
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let registry = registry.clone();
        callers.spawn(async move { registry.report(&report_options()).await });
    }
    while let Some(report) = callers.join_next().await {
        let result = report.expect("a caller").checks["db"].result.clone();
        assert_eq!(
            (run_of(&result), result.status),
            (2, HealthStatus::Healthy),
            "{result:?}"
        );
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "one fresh run for every caller"
    );
}

#[tokio::test(start_paused = true)]
async fn damping_turns_unhealthy_only_after_consecutive_failures() {
    // Runs 2, 3, 4 fail; run 5 recovers; run 6 fails once more.
    let (check, _) = counting("flaky", Duration::ZERO, |run| match run {
        2..=4 | 6 => CheckResult::unhealthy("lost a packet"),
        _ => CheckResult::healthy(),
    });
    let registry = HealthRegistry::builder()
        .check_with(check, CheckOptions::new().failure_threshold(3))
        .build()
        .expect("valid");
    let result = registry.report(&report_options()).await.checks["flaky"]
        .result
        .clone();
    let mut seen = vec![(run_of(&result), result.status)];
    for _ in 0..6 {
        // Past the TTL: this report serves the last result and starts one refresh...
        tokio::time::advance(Duration::from_millis(1_100)).await;
        registry.report(&report_options()).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        // ...whose result the next one shows.
        let result = registry.report(&report_options()).await.checks["flaky"]
            .result
            .clone();
        seen.push((run_of(&result), result.status));
    }
    use HealthStatus::{Degraded, Healthy, Unhealthy};
    assert_eq!(
        seen,
        [
            (1, Healthy),
            (2, Degraded),
            (3, Degraded),
            (4, Unhealthy),
            (5, Healthy),
            (6, Degraded),
            (7, Healthy)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn in_background_mode_reports_never_wait_nor_run_a_check() {
    let (check, runs) = counting("db", Duration::from_millis(100), |_| CheckResult::healthy());
    let registry = HealthRegistry::builder()
        .check_with(check, CheckOptions::new().ttl(Duration::ZERO))
        .build()
        .expect("valid");
    let background = registry.background(Duration::from_secs(5));

    let started = Instant::now();
    let report = registry.report(&report_options()).await;
    assert_eq!(started.elapsed(), Duration::ZERO);
    let pending = &report.checks["db"].result;
    assert_eq!(pending.status, HealthStatus::Unhealthy);
    assert!(
        pending
            .error
            .as_deref()
            .is_some_and(|e| e.contains("not checked yet"))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the report started nothing");

    let task = tokio::spawn(background);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the first tick ran the check"
    );
    for _ in 0..10 {
        assert_eq!(
            registry.report(&report_options()).await.status,
            HealthStatus::Healthy
        );
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "reports ran nothing, TTL or not"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the next tick refreshed");

    task.abort();
    let _ = task.await;
    // Without the background task, reports refresh on demand again.
    registry.report(&report_options()).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}
