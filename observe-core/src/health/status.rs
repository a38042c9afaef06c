//! [`HealthStatus`]: healthy, degraded or unhealthy, ordered so that the worst wins.

use std::fmt;

use serde::Serialize;

/// The health of a check or of a whole service.
///
/// Ordered from best to worst, so the worst of several is their [`max`](Ord::max):
///
/// ```
/// use observe_core::health::HealthStatus;
///
/// let statuses = [HealthStatus::Healthy, HealthStatus::Unhealthy, HealthStatus::Degraded];
/// assert_eq!(statuses.iter().max(), Some(&HealthStatus::Unhealthy));
/// assert_eq!(serde_json::to_string(&HealthStatus::Degraded).unwrap(), r#""degraded""#);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything works.
    #[default]
    Healthy,
    /// It works, but something is slow, saturated or missing (a non-critical
    /// dependency is down): worth a look, not a page.
    Degraded,
    /// It does not work.
    Unhealthy,
}

impl HealthStatus {
    /// The status as a lower-case word: `healthy`, `degraded` or `unhealthy`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }

    /// The value of the Prometheus gauges: 2 healthy, 1 degraded, 0 unhealthy.
    #[must_use]
    pub const fn gauge_value(self) -> i64 {
        match self {
            Self::Healthy => 2,
            Self::Degraded => 1,
            Self::Unhealthy => 0,
        }
    }

    /// Whether the status still serves traffic (healthy or degraded).
    #[must_use]
    pub const fn is_serving(self) -> bool {
        !matches!(self, Self::Unhealthy)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
