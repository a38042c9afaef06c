//! The [`HealthCheck`] trait and what a check returns, [`CheckResult`].

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::HealthStatus;
use crate::views::{millis, rfc3339};

/// A boxed, `Send` future: what [`HealthCheck::check`] returns, so the trait stays
/// object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An async health check of one dependency or resource.
///
/// The registry calls [`check`](Self::check) at most once at a time per check, bounds
/// it with a timeout, catches its panics, measures how long it took, and caches the
/// result; a check only has to look once and say what it saw.
///
/// # Example
///
/// ```
/// use observe_core::health::{BoxFuture, CheckResult, HealthCheck};
///
/// struct Disk;
///
/// impl HealthCheck for Disk {
///     fn name(&self) -> &str {
///         "disk"
///     }
///
///     fn check(&self) -> BoxFuture<'_, CheckResult> {
///         Box::pin(async {
///             let free_percent = 42.0; // look it up for real
///             let result = if free_percent < 5.0 {
///                 CheckResult::unhealthy("disk almost full")
///             } else {
///                 CheckResult::healthy()
///             };
///             result.with_detail("free_percent", free_percent)
///         })
///     }
/// }
/// ```
pub trait HealthCheck: Send + Sync + 'static {
    /// The check's name, unique within a registry: the key in reports and the `check`
    /// label in Prometheus.
    fn name(&self) -> &str;

    /// Runs the check once.
    fn check(&self) -> BoxFuture<'_, CheckResult>;

    /// The kind of component checked, as the IETF health format's `componentType`:
    /// `datastore`, `system`, `component` (the default) or any word of yours.
    fn component_type(&self) -> &'static str {
        "component"
    }
}

/// Connection counts of a database pool, reported by pool checks and exported as the
/// `ns_db_pool_connections` and `ns_db_pool_max_connections` gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// Open connections lent out.
    pub in_use: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

impl PoolStats {
    /// Counts from the pool's own figures.
    #[must_use]
    pub const fn new(idle: u32, in_use: u32, max: u32) -> Self {
        Self { idle, in_use, max }
    }

    /// Whether every connection the pool may open is open and lent out.
    #[must_use]
    pub const fn is_saturated(&self) -> bool {
        self.max > 0 && self.idle == 0 && self.in_use >= self.max
    }
}

/// What one run of a check found.
///
/// Built with [`healthy`](Self::healthy), [`degraded`](Self::degraded) or
/// [`unhealthy`](Self::unhealthy) and the `with_*` methods. The registry fills in
/// [`duration`](Self::duration) and [`checked_at`](Self::checked_at).
///
/// In JSON: `{"status", "duration_ms", "details", "error", "checked_at"}`, with `error`
/// left out when there is none.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CheckResult {
    /// What the check concluded.
    pub status: HealthStatus,
    /// How long the check took (measured by the registry).
    pub duration: Duration,
    /// Figures behind the status (`ping_ms`, `in_use_connections`, ...).
    pub details: Map<String, Value>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Pool connection counts, for checks of a connection pool.
    pub pool: Option<PoolStats>,
    /// When the check started (set by the registry).
    pub checked_at: SystemTime,
}

impl CheckResult {
    /// A result with `status` and nothing else.
    #[must_use]
    pub fn new(status: HealthStatus) -> Self {
        Self {
            status,
            duration: Duration::ZERO,
            details: Map::new(),
            error: None,
            pool: None,
            checked_at: SystemTime::now(),
        }
    }

    /// Healthy.
    #[must_use]
    pub fn healthy() -> Self {
        Self::new(HealthStatus::Healthy)
    }

    /// Degraded, for `reason`.
    #[must_use]
    pub fn degraded(reason: impl Into<String>) -> Self {
        Self::new(HealthStatus::Degraded).with_error(reason)
    }

    /// Unhealthy, for `reason`.
    #[must_use]
    pub fn unhealthy(reason: impl Into<String>) -> Self {
        Self::new(HealthStatus::Unhealthy).with_error(reason)
    }

    /// Adds a figure to [`details`](Self::details).
    #[must_use]
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Sets the error message.
    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Attaches pool counts, and adds them to the details as `idle_connections`,
    /// `in_use_connections`, `open_connections` and `max_connections`.
    #[must_use]
    pub fn with_pool(mut self, pool: PoolStats) -> Self {
        self.details
            .insert("open_connections".into(), (pool.idle + pool.in_use).into());
        self.details
            .insert("idle_connections".into(), pool.idle.into());
        self.details
            .insert("in_use_connections".into(), pool.in_use.into());
        self.details
            .insert("max_connections".into(), pool.max.into());
        self.pool = Some(pool);
        self
    }

    /// Raises the status to `status` if that is worse, with `reason` as the error; a
    /// status no worse than the current one changes nothing.
    #[must_use]
    pub fn at_least(mut self, status: HealthStatus, reason: impl Into<String>) -> Self {
        if status > self.status {
            self.status = status;
            self.error = Some(reason.into());
        }
        self
    }
}

impl Serialize for CheckResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry("duration_ms", &millis(self.duration))?;
        map.serialize_entry("details", &self.details)?;
        if let Some(error) = &self.error {
            map.serialize_entry("error", error)?;
        }
        map.serialize_entry("checked_at", &rfc3339(self.checked_at))?;
        map.end()
    }
}

/// A check from a name and an async closure: see [`fn_check`].
pub struct FnCheck<F> {
    name: String,
    component_type: &'static str,
    f: F,
}

impl<F> std::fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F> FnCheck<F> {
    /// Sets the IETF `componentType` (default `component`).
    #[must_use]
    pub fn component_type(mut self, kind: &'static str) -> Self {
        self.component_type = kind;
        self
    }
}

/// A check that runs an async closure.
///
/// ```
/// use observe_core::health::{CheckResult, HealthRegistry, fn_check};
///
/// let queue_depth = || 3_u64;
/// let check = fn_check("queue", move || async move {
///     let depth = queue_depth();
///     let result = if depth > 1_000 { CheckResult::degraded("queue backing up") } else { CheckResult::healthy() };
///     result.with_detail("depth", depth)
/// });
/// let registry = HealthRegistry::builder().check(check).build().unwrap();
/// # let _ = registry;
/// ```
pub fn fn_check<F, Fut>(name: impl Into<String>, f: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    FnCheck {
        name: name.into(),
        component_type: "component",
        f,
    }
}

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin((self.f)())
    }

    fn component_type(&self) -> &'static str {
        self.component_type
    }
}
