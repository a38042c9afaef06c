//! [`LatencyCheck`]: the recent p95 of operations against thresholds.

use std::time::Duration;

use serde_json::{Map, Value};

use super::ms;
use crate::MetricsCollector;
use crate::health::{BoxFuture, CheckResult, HealthCheck, HealthStatus};

/// Degraded or unhealthy when the p95 latency, over the collector's recent window, of
/// one of the chosen operations (default: all) crosses a threshold.
///
/// Defaults: degraded above 500 ms, unhealthy above 2 s.
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
/// use observe_core::health::LatencyCheck;
///
/// let collector = MetricsCollector::new();
/// let check = LatencyCheck::new(&collector)
///     .operations(["db_query"])
///     .thresholds(Duration::from_millis(100), Duration::from_secs(1));
/// # let _ = check;
/// ```
#[derive(Debug)]
pub struct LatencyCheck {
    name: String,
    collector: MetricsCollector,
    operations: Vec<String>,
    degraded: Duration,
    unhealthy: Duration,
}

impl LatencyCheck {
    /// A check named `latency` over every operation of `collector`.
    #[must_use]
    pub fn new(collector: &MetricsCollector) -> Self {
        Self {
            name: "latency".to_owned(),
            collector: collector.clone(),
            operations: Vec::new(),
            degraded: Duration::from_millis(500),
            unhealthy: Duration::from_secs(2),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Only these operations (default: all).
    #[must_use]
    pub fn operations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.operations = names.into_iter().map(Into::into).collect();
        self
    }

    /// Degraded above `degraded`, unhealthy above `unhealthy`.
    #[must_use]
    pub fn thresholds(mut self, degraded: Duration, unhealthy: Duration) -> Self {
        self.degraded = degraded;
        self.unhealthy = unhealthy;
        self
    }

    fn evaluate(&self) -> CheckResult {
        let snapshots = super::chosen(&self.collector, &self.operations);
        let mut result = CheckResult::healthy();
        let mut p95s = Map::new();
        for snapshot in &snapshots {
            let Some(p95) = snapshot.recent.p95 else {
                continue;
            };
            p95s.insert(snapshot.name.clone(), Value::from(ms(p95)));
            let status = if p95 > self.unhealthy {
                HealthStatus::Unhealthy
            } else if p95 > self.degraded {
                HealthStatus::Degraded
            } else {
                continue;
            };
            if status > result.status {
                result.status = status;
                result.error = Some(format!(
                    "p95 of {:?} is {} ms, above {} ms",
                    snapshot.name,
                    ms(p95),
                    ms(if status == HealthStatus::Unhealthy {
                        self.unhealthy
                    } else {
                        self.degraded
                    })
                ));
            }
        }
        result
            .with_detail("p95_ms", p95s)
            .with_detail("degraded_ms", ms(self.degraded))
            .with_detail("unhealthy_ms", ms(self.unhealthy))
    }
}

impl HealthCheck for LatencyCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(async move { self.evaluate() })
    }
}
