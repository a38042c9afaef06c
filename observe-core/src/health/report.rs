//! What a registry answers: [`HealthReport`] and [`ReadinessReport`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{CheckResult, HealthStatus};
use crate::SystemSummary;
use crate::views::rfc3339;

/// One check's result in a report, with how the registry weighs it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CheckReport {
    /// The result (cached, refreshed or stale).
    pub result: CheckResult,
    /// Whether its failure makes the whole unhealthy.
    pub critical: bool,
    /// The IETF health format's `componentType`.
    pub component_type: &'static str,
}

impl Serialize for CheckReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let result = &self.result;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("status", &result.status)?;
        map.serialize_entry("critical", &self.critical)?;
        map.serialize_entry("duration_ms", &crate::views::millis(result.duration))?;
        map.serialize_entry("details", &result.details)?;
        if let Some(error) = &result.error {
            map.serialize_entry("error", error)?;
        }
        map.serialize_entry("checked_at", &rfc3339(result.checked_at))?;
        map.end()
    }
}

/// The health of a service: the overall status, each check, and the operations'
/// summary.
///
/// In JSON: `status`, `service`, `version`, `uptime` (like `1h2m3s`), `uptime_seconds`,
/// `timestamp` (RFC 3339), `checks` (name to `{status, critical, duration_ms, details,
/// error, checked_at}`) and `operation_metrics` (the collector's
/// [`SystemSummary`], when the registry has a collector).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst of the checks, non-critical failures counting as degraded.
    pub status: HealthStatus,
    /// The service's name.
    pub service: String,
    /// The service's version.
    pub version: String,
    /// Time since the registry was built.
    pub uptime: Duration,
    /// The checks evaluated, by name.
    pub checks: BTreeMap<String, CheckReport>,
    /// The collector's summary, if the registry has a collector.
    pub operation_metrics: Option<SystemSummary>,
    /// When the report was made.
    pub timestamp: SystemTime,
}

impl HealthReport {
    /// Whether the service serves (healthy or degraded): HTTP 200 rather than 503.
    #[must_use]
    pub fn is_serving(&self) -> bool {
        self.status.is_serving()
    }

    /// The names of the checks that are unhealthy.
    pub fn failing(&self) -> impl Iterator<Item = &str> {
        self.checks
            .iter()
            .filter(|(_, c)| c.result.status == HealthStatus::Unhealthy)
            .map(|(name, _)| name.as_str())
    }

    /// The same report without check details and errors: statuses and names only, for
    /// callers not allowed to see the figures.
    #[must_use]
    pub fn without_details(mut self) -> Self {
        for check in self.checks.values_mut() {
            check.result.details.clear();
            check.result.error = None;
        }
        self
    }
}

impl Serialize for HealthReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry("service", &self.service)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry(
            "uptime",
            &crate::human_duration(Duration::from_secs(self.uptime.as_secs())),
        )?;
        map.serialize_entry("uptime_seconds", &self.uptime.as_secs_f64())?;
        map.serialize_entry("timestamp", &rfc3339(self.timestamp))?;
        map.serialize_entry("checks", &self.checks)?;
        if let Some(summary) = &self.operation_metrics {
            map.serialize_entry("operation_metrics", summary)?;
        }
        map.end()
    }
}

/// The outcome of a readiness evaluation: the checks tagged `ready`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReadinessReport {
    /// Whether every check tagged `ready` serves (healthy or degraded).
    pub ready: bool,
    /// The checks evaluated, by name.
    pub checks: BTreeMap<String, CheckReport>,
}

impl ReadinessReport {
    /// The names of the ready checks that are unhealthy.
    pub fn failing(&self) -> impl Iterator<Item = &str> {
        self.checks
            .iter()
            .filter(|(_, c)| !c.result.status.is_serving())
            .map(|(name, _)| name.as_str())
    }
}
