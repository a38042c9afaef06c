//! [`CheckOptions`]: how the registry runs, caches and weighs one check.

use std::borrow::Cow;
use std::time::Duration;

/// The tag of checks that readiness (`/ready`) evaluates.
pub const READY: &str = "ready";
/// The tag of checks that are expensive or external: they run only when a report asks
/// for details ([`ReportOptions::detailed`](super::ReportOptions::detailed)).
pub const DETAILED: &str = "detailed";

/// How the registry runs, caches and weighs one check.
///
/// The defaults: critical, a 2 s timeout, results cached for 1 s, no tags, unhealthy at
/// the first failure.
///
/// ```
/// use std::time::Duration;
/// use observe_core::health::CheckOptions;
///
/// let options = CheckOptions::new()
///     .critical(false)                  // a failure degrades, it does not fail the whole
///     .ready()                          // readiness depends on it
///     .timeout(Duration::from_millis(500))
///     .ttl(Duration::from_secs(5))
///     .failure_threshold(3);            // unhealthy after 3 failures in a row
/// assert!(options.has_tag("ready"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct CheckOptions {
    pub(crate) critical: bool,
    pub(crate) timeout: Duration,
    pub(crate) ttl: Duration,
    pub(crate) tags: Vec<Cow<'static, str>>,
    pub(crate) failure_threshold: u32,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            critical: true,
            timeout: Duration::from_secs(2),
            ttl: Duration::from_secs(1),
            tags: Vec::new(),
            failure_threshold: 1,
        }
    }
}

impl CheckOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the check's failure makes the whole service unhealthy (`true`, the
    /// default) or only degraded (`false`).
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// How long a run may take before it counts as unhealthy (default 2 s; at least
    /// 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a result is served before the next report refreshes it (default 1 s).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<Cow<'static, str>>) -> Self {
        let tag = tag.into();
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        self
    }

    /// Tags the check [`READY`]: readiness depends on it.
    pub fn ready(self) -> Self {
        self.tag(READY)
    }

    /// Tags the check [`DETAILED`]: it runs only for detailed reports.
    pub fn detailed(self) -> Self {
        self.tag(DETAILED)
    }

    /// How many failures in a row make the check unhealthy (default 1). Before that, a
    /// failure shows as degraded, so one lost packet does not flip readiness.
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// Whether the check carries `tag`.
    #[must_use]
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether the check is critical.
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.critical
    }
}
