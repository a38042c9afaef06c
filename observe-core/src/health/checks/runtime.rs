//! [`RuntimeCheck`]: how late the Tokio runtime runs a task it was handed.

use std::time::{Duration, Instant};

use super::ms;
use crate::health::{BoxFuture, CheckResult, HealthCheck};

/// Measures how late a task spawned on the current Tokio runtime starts: a blocked or
/// saturated executor, the failure every dependency check misses.
///
/// Defaults: degraded above 100 ms, unhealthy above 1 s.
///
/// ```
/// use std::time::Duration;
/// use observe_core::health::RuntimeCheck;
///
/// let check = RuntimeCheck::new().thresholds(Duration::from_millis(50), Duration::from_millis(500));
/// # let _ = check;
/// ```
#[derive(Debug)]
pub struct RuntimeCheck {
    name: String,
    degraded: Duration,
    unhealthy: Duration,
}

impl Default for RuntimeCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl RuntimeCheck {
    /// A check named `runtime`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            name: "runtime".to_owned(),
            degraded: Duration::from_millis(100),
            unhealthy: Duration::from_secs(1),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Degraded above `degraded`, unhealthy above `unhealthy`.
    #[must_use]
    pub fn thresholds(mut self, degraded: Duration, unhealthy: Duration) -> Self {
        self.degraded = degraded;
        self.unhealthy = unhealthy;
        self
    }

    async fn evaluate(&self) -> CheckResult {
        let sent = Instant::now();
        let delay = match tokio::spawn(async move { sent.elapsed() }).await {
            Ok(delay) => delay,
            Err(e) => return CheckResult::unhealthy(format!("the probe task did not run: {e}")),
        };
        let result = if delay > self.unhealthy {
            CheckResult::unhealthy(format!(
                "a spawned task started {} ms late (limit {} ms): the runtime is blocked",
                ms(delay),
                ms(self.unhealthy)
            ))
        } else if delay > self.degraded {
            CheckResult::degraded(format!(
                "a spawned task started {} ms late (limit {} ms)",
                ms(delay),
                ms(self.degraded)
            ))
        } else {
            CheckResult::healthy()
        };
        let metrics = tokio::runtime::Handle::current().metrics();
        result
            .with_detail("scheduling_delay_ms", ms(delay))
            .with_detail("workers", metrics.num_workers())
            .with_detail("alive_tasks", metrics.num_alive_tasks())
    }
}

impl HealthCheck for RuntimeCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(self.evaluate())
    }

    fn component_type(&self) -> &'static str {
        "system"
    }
}
