//! [`ErrorRateCheck`]: the recent error rate of a collector's operations.

use crate::MetricsCollector;
use crate::health::{BoxFuture, CheckResult, HealthCheck};

/// Degraded or unhealthy when too many operations failed within the collector's recent
/// window, over all operations or a chosen set.
///
/// Defaults: degraded from 3 %, unhealthy above 5 %, judged only once 20 operations are
/// in the window (below that, healthy with the figures).
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
/// use observe_core::health::{ErrorRateCheck, HealthRegistry};
///
/// let collector = MetricsCollector::new();
/// let check = ErrorRateCheck::new(&collector)
///     .operations(["create_expense", "get_expense"])
///     .thresholds(2.0, 10.0)
///     .min_operations(50);
/// let registry = HealthRegistry::builder().check(check).build().unwrap();
/// # let _ = registry;
/// ```
#[derive(Debug)]
pub struct ErrorRateCheck {
    name: String,
    collector: MetricsCollector,
    operations: Vec<String>,
    degraded_percent: f64,
    unhealthy_percent: f64,
    min_operations: u64,
}

impl ErrorRateCheck {
    /// A check named `error_rate` over every operation of `collector`.
    #[must_use]
    pub fn new(collector: &MetricsCollector) -> Self {
        Self {
            name: "error_rate".to_owned(),
            collector: collector.clone(),
            operations: Vec::new(),
            degraded_percent: 3.0,
            unhealthy_percent: 5.0,
            min_operations: 20,
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

    /// Degraded from `degraded` percent, unhealthy above `unhealthy` percent.
    #[must_use]
    pub fn thresholds(mut self, degraded: f64, unhealthy: f64) -> Self {
        self.degraded_percent = degraded;
        self.unhealthy_percent = unhealthy;
        self
    }

    /// How many operations the window must hold before the rate is judged.
    #[must_use]
    pub fn min_operations(mut self, min: u64) -> Self {
        self.min_operations = min;
        self
    }

    fn evaluate(&self) -> CheckResult {
        let snapshots = super::chosen(&self.collector, &self.operations);
        let (count, errors) = snapshots.iter().fold((0_u64, 0_u64), |(c, e), s| {
            (c + s.recent.count, e + s.recent.error_count)
        });
        let rate = crate::views::percent(errors, count);
        let result = if count < self.min_operations {
            CheckResult::healthy().with_detail("note", "too few operations in the window to judge")
        } else if rate > self.unhealthy_percent {
            CheckResult::unhealthy(format!(
                "error rate {rate:.1}% is above {}%",
                self.unhealthy_percent
            ))
        } else if rate >= self.degraded_percent {
            CheckResult::degraded(format!(
                "error rate {rate:.1}% is at least {}%",
                self.degraded_percent
            ))
        } else {
            CheckResult::healthy()
        };
        result
            .with_detail("error_rate_percent", (rate * 100.0).round() / 100.0)
            .with_detail("operations", count)
            .with_detail("errors", errors)
            .with_detail("degraded_percent", self.degraded_percent)
            .with_detail("unhealthy_percent", self.unhealthy_percent)
            .with_detail("min_operations", self.min_operations)
    }
}

impl HealthCheck for ErrorRateCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(async move { self.evaluate() })
    }
}
