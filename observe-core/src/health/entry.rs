//! One registered check and its cache: single flight, stale-while-revalidate, timeouts,
//! panics, damping and status-change logs.

use std::any::Any;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
// Tokio's clock, so tests can pause and advance time; the system clock otherwise.
use tokio::time::Instant;

use super::redact::redact_result;
use super::{CheckOptions, CheckResult, HealthCheck, HealthStatus};
use crate::human_duration;

/// How long past its timeout a run may take to store its result before it counts as
/// lost (its task could not run).
const GRACE: Duration = Duration::from_millis(250);

/// A registered check with its options and its last result.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) component_type: &'static str,
    pub(crate) options: CheckOptions,
    check: Arc<dyn HealthCheck>,
    secrets: Arc<[String]>,
    state: Mutex<State>,
    /// Wakes the callers waiting for a first result.
    stored: Notify,
    /// How many runs started, for tests and diagnostics.
    runs: AtomicU64,
}

#[derive(Default)]
struct State {
    last: Option<Stored>,
    refreshing: bool,
    /// When the refresh under way started.
    refresh_started: Option<Instant>,
    consecutive_failures: u32,
}

struct Stored {
    result: CheckResult,
    at: Instant,
}

/// How a report may get a result.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// Refresh on demand: the first call waits, later ones get the cache.
    OnDemand,
    /// A background task refreshes; never wait, never start a run.
    Background,
}

impl Entry {
    pub(crate) fn new(
        check: Arc<dyn HealthCheck>,
        options: CheckOptions,
        secrets: Arc<[String]>,
    ) -> Self {
        Self {
            name: check.name().to_owned(),
            component_type: check.component_type(),
            options,
            check,
            secrets,
            state: Mutex::new(State::default()),
            stored: Notify::new(),
            runs: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many runs of the check started.
    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// The result a report shows: the cached one (refreshed behind the caller's back
    /// once past its TTL), or the result of a run the caller waits for, bounded by the
    /// timeout: for the very first call, and for a call after the result grew older than
    /// `max_age` because nothing asked for it (an idle service). A result older than
    /// `max_age` whose refresh does not complete is reported unhealthy as stale.
    pub(crate) async fn result(self: &Arc<Self>, mode: Mode, max_age: Duration) -> CheckResult {
        if tokio::runtime::Handle::try_current().is_err() {
            return CheckResult::unhealthy(
                "health checks run on a Tokio runtime, and there is none",
            );
        }
        let on_demand = matches!(mode, Mode::OnDemand);
        let deadline = Instant::now() + self.options.timeout + GRACE;
        loop {
            let mut stored = pin!(self.stored.notified());
            {
                let mut state = self.lock();
                if let Some(last) = &state.last {
                    let age = last.at.elapsed();
                    if age <= max_age {
                        let result = last.result.clone();
                        if age >= self.options.ttl && on_demand {
                            self.start_refresh(&mut state);
                        }
                        return result;
                    }
                    if self.is_stale(&state, mode, max_age) {
                        return stale(&last.result, age);
                    }
                } else if !on_demand {
                    return CheckResult::unhealthy(
                        "not checked yet: the background refresh has not completed a run",
                    );
                }
                self.start_refresh(&mut state);
                // Register before unlocking, so a result stored in between still wakes us.
                stored.as_mut().enable();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, stored).await.is_err() {
                let state = self.lock();
                return match &state.last {
                    Some(last) if last.at.elapsed() > max_age => {
                        stale(&last.result, last.at.elapsed())
                    }
                    Some(last) => last.result.clone(),
                    None => CheckResult::unhealthy(format!(
                        "timed out after {} waiting for the first run",
                        human_duration(self.options.timeout)
                    )),
                };
            }
        }
    }

    /// Whether the last result, older than `max_age`, can no longer be trusted: no run
    /// replaced it although one should have (the background refresh stopped, or the
    /// refresh under way is overdue).
    fn is_stale(&self, state: &State, mode: Mode, max_age: Duration) -> bool {
        let Some(last) = &state.last else {
            return false;
        };
        if last.at.elapsed() <= max_age {
            return false;
        }
        let overdue = state
            .refresh_started
            .is_some_and(|started| started.elapsed() > self.options.timeout + GRACE);
        matches!(mode, Mode::Background) || (state.refreshing && overdue)
    }

    /// The cached result, if any, as a report would show it; never runs the check. An
    /// old result nothing asked to refresh is shown as it is (the service is idle);
    /// one whose refresh is overdue is shown stale.
    pub(crate) fn last(&self, mode: Mode, max_age: Duration) -> Option<CheckResult> {
        let state = self.lock();
        let last = state.last.as_ref()?;
        Some(if self.is_stale(&state, mode, max_age) {
            stale(&last.result, last.at.elapsed())
        } else {
            last.result.clone()
        })
    }

    /// Starts a run if a report made now would need one (no result yet, or one past its
    /// TTL), so that several checks run side by side.
    pub(crate) fn prime(self: &Arc<Self>, mode: Mode) {
        if matches!(mode, Mode::Background) {
            return;
        }
        let mut state = self.lock();
        let due = state
            .last
            .as_ref()
            .is_none_or(|last| last.at.elapsed() >= self.options.ttl);
        if due {
            self.start_refresh(&mut state);
        }
    }

    /// Starts a background refresh unless one runs; for the background mode's loop.
    pub(crate) fn refresh_now(self: &Arc<Self>) {
        let mut state = self.lock();
        self.start_refresh(&mut state);
    }

    fn start_refresh(self: &Arc<Self>, state: &mut State) {
        if state.refreshing {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        state.refreshing = true;
        state.refresh_started = Some(Instant::now());
        self.runs.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::clone(self);
        runtime.spawn(async move {
            let guard = RefreshGuard(&entry);
            let result = entry.run().await;
            entry.store(result);
            std::mem::forget(guard);
        });
    }

    /// One run: in its own task, so a panic is caught and a timeout can abort it.
    async fn run(&self) -> CheckResult {
        let check = Arc::clone(&self.check);
        let checked_at = SystemTime::now();
        let started = Instant::now();
        let mut task = tokio::spawn(async move { check.check().await });
        let mut result = match tokio::time::timeout(self.options.timeout, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) if e.is_panic() => {
                let payload = e.into_panic();
                CheckResult::unhealthy(format!("the check panicked: {}", panic_message(&*payload)))
            }
            Ok(Err(_)) => CheckResult::unhealthy("the check's task was cancelled"),
            Err(_) => {
                task.abort();
                CheckResult::unhealthy(format!(
                    "timed out after {}",
                    human_duration(self.options.timeout)
                ))
            }
        };
        result.duration = started.elapsed();
        result.checked_at = checked_at;
        redact_result(&mut result, &self.secrets);
        result
    }

    /// Stores a run's result, applying the failure threshold, and logs a change of status.
    fn store(&self, mut result: CheckResult) {
        let mut state = self.lock();
        if result.status == HealthStatus::Unhealthy {
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            let threshold = self.options.failure_threshold;
            if state.consecutive_failures < threshold {
                result.status = HealthStatus::Degraded;
                let error = result.error.take().unwrap_or_else(|| "failed".to_owned());
                result.error = Some(format!(
                    "{error} (failure {} of {threshold} before unhealthy)",
                    state.consecutive_failures
                ));
            }
        } else {
            state.consecutive_failures = 0;
        }
        let old = state.last.as_ref().map(|last| last.result.status);
        log_change(&self.name, old, &result);
        state.last = Some(Stored {
            result,
            at: Instant::now(),
        });
        state.refreshing = false;
        drop(state);
        self.stored.notify_waiters();
    }
}

/// Clears the `refreshing` flag if a refresh task dies without storing a result (its
/// runtime shut down), so the next report can start another.
struct RefreshGuard<'a>(&'a Entry);

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().refreshing = false;
        self.0.stored.notify_waiters();
    }
}

fn stale(last: &CheckResult, age: Duration) -> CheckResult {
    let mut result = last.clone();
    result.status = HealthStatus::Unhealthy;
    result.error = Some(format!(
        "stale: no run of the check completed in the last {} (last result: {})",
        human_duration(age),
        last.error.as_deref().unwrap_or(last.status.as_str()),
    ));
    result
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a non-string panic payload)".to_owned())
}

fn log_change(name: &str, old: Option<HealthStatus>, new: &CheckResult) {
    let error = new.error.as_deref().unwrap_or("");
    match old {
        Some(old) if old == new.status => {}
        Some(old) if new.status > old => {
            tracing::warn!(check = name, old = %old, new = %new.status, error, "health check got worse");
        }
        Some(old) => {
            tracing::info!(check = name, old = %old, new = %new.status, error, "health check recovered");
        }
        None if new.status != HealthStatus::Healthy => {
            tracing::warn!(check = name, new = %new.status, error, "health check failing on its first run");
        }
        None => tracing::debug!(check = name, "health check healthy on its first run"),
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
