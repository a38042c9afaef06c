//! [`HealthRegistry`]: the checks of a service, run on demand or in the background,
//! cached, and aggregated into reports.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use super::entry::{Entry, Mode};
use super::{CheckOptions, CheckReport, HealthCheck, HealthReport, HealthStatus, ReadinessReport};
use crate::{BuildError, MetricsCollector};

/// Which checks a report evaluates.
///
/// ```
/// use observe_core::health::ReportOptions;
///
/// let options = ReportOptions::new().detailed(true).exclude("redis");
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct ReportOptions {
    detailed: bool,
    exclude: BTreeSet<String>,
}

impl ReportOptions {
    /// The checks not tagged `detailed`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also runs the checks tagged [`DETAILED`](super::DETAILED).
    pub fn detailed(mut self, detailed: bool) -> Self {
        self.detailed = detailed;
        self
    }

    /// Leaves out the check named `name` (repeatable; unknown names are ignored).
    pub fn exclude(mut self, name: impl Into<String>) -> Self {
        self.exclude.insert(name.into());
        self
    }
}

/// The health checks of a service.
///
/// Cheap to clone (clones share the checks and their caches). Each check runs at most
/// once at a time, whatever the number of callers (single flight); its result is served
/// from cache for the check's TTL, then served stale while one refresh runs in a task
/// of its own (stale-while-revalidate), so only the very first report of a check waits
/// for it, bounded by its timeout. A check that times out or panics is unhealthy with an
/// error that says so. A result older than the maximum age (30 s by default) is not
/// served as it is: after an idle spell the report waits for a fresh run, and when no
/// run can replace it, it turns unhealthy with an error that says it is stale.
///
/// Needs a Tokio runtime: checks run in tasks of their own.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use observe_core::MetricsCollector;
/// use observe_core::health::{CheckOptions, CheckResult, HealthRegistry, HealthStatus, ReportOptions, fn_check};
///
/// let collector = MetricsCollector::new();
/// let registry = HealthRegistry::builder()
///     .service("expenses", "1.4.2")
///     .collector(&collector)
///     .check_with(fn_check("database", || async { CheckResult::healthy() }), CheckOptions::new().ready())
///     .check_with(
///         fn_check("cache", || async { CheckResult::unhealthy("connection refused") }),
///         CheckOptions::new().critical(false),
///     )
///     .build()
///     .unwrap();
///
/// let report = registry.report(&ReportOptions::new()).await;
/// assert_eq!(report.status, HealthStatus::Degraded); // the cache is not critical
/// assert!(report.is_serving());
/// assert!(registry.readiness(&ReportOptions::new()).await.ready); // only `database` is tagged ready
/// # }
/// ```
#[derive(Clone)]
pub struct HealthRegistry {
    pub(crate) inner: Arc<Inner>,
}

/// The registries built on one collector, held weakly in the collector's extensions:
/// the collector must not keep them alive.
#[derive(Clone, Default)]
struct Attached(Arc<Mutex<Vec<Weak<Inner>>>>);

pub(crate) struct Inner {
    service: String,
    version: String,
    started: Instant,
    collector: Option<MetricsCollector>,
    pub(crate) entries: Vec<Arc<Entry>>,
    pub(crate) max_age: Duration,
    background: AtomicBool,
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("service", &self.inner.service)
            .field("version", &self.inner.version)
            .field("checks", &self.inner.entries)
            .field("max_age", &self.inner.max_age)
            .finish_non_exhaustive()
    }
}

impl HealthRegistry {
    /// A builder with no checks.
    pub fn builder() -> HealthRegistryBuilder {
        HealthRegistryBuilder {
            service: "service".to_owned(),
            version: "unknown".to_owned(),
            collector: None,
            checks: Vec::new(),
            max_age: Duration::from_secs(30),
            secrets: Vec::new(),
        }
    }

    /// The health of the service: every check but those excluded, and those tagged
    /// `detailed` only when asked for.
    pub async fn report(&self, options: &ReportOptions) -> HealthReport {
        let checks = self
            .evaluate(|entry| {
                !options.exclude.contains(&entry.name)
                    && (options.detailed || !entry.options.has_tag(super::DETAILED))
            })
            .await;
        HealthReport {
            status: aggregate(checks.values()),
            service: self.inner.service.clone(),
            version: self.inner.version.clone(),
            uptime: self.inner.started.elapsed(),
            checks,
            operation_metrics: self.inner.collector.as_ref().map(MetricsCollector::summary),
            timestamp: SystemTime::now(),
        }
    }

    /// Readiness: only the checks tagged [`READY`](super::READY) (but those excluded).
    /// Ready when none of them is unhealthy, whether critical or not: tagging a check
    /// `ready` says the service cannot take traffic without it.
    pub async fn readiness(&self, options: &ReportOptions) -> ReadinessReport {
        let checks = self
            .evaluate(|entry| {
                entry.options.has_tag(super::READY) && !options.exclude.contains(&entry.name)
            })
            .await;
        ReadinessReport {
            ready: checks.values().all(|c| c.result.status.is_serving()),
            checks,
        }
    }

    /// The last result of every check that has one; never runs a check. What the
    /// Prometheus gauges show. A result whose refresh is overdue, or that the background
    /// refresh stopped replacing, shows as stale.
    #[must_use]
    pub fn last_results(&self) -> BTreeMap<String, CheckReport> {
        let mode = self.mode();
        self.inner
            .entries
            .iter()
            .filter_map(|entry| {
                Some((
                    entry.name.clone(),
                    report_of(entry, entry.last(mode, self.inner.max_age)?),
                ))
            })
            .collect()
    }

    /// Background mode: a future that refreshes every check each `interval`, for you to
    /// spawn on your runtime. While it runs, reports never wait for a check and never
    /// start one; a check not yet run reports unhealthy ("not checked yet").
    ///
    /// ```no_run
    /// # async fn f(registry: observe_core::health::HealthRegistry) {
    /// tokio::spawn(registry.background(std::time::Duration::from_secs(5)));
    /// # }
    /// ```
    pub fn background(&self, interval: Duration) -> impl Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        inner.background.store(true, Ordering::SeqCst);
        let interval = interval.max(Duration::from_millis(1));
        async move {
            struct Off(Arc<Inner>);
            impl Drop for Off {
                fn drop(&mut self) {
                    self.0.background.store(false, Ordering::SeqCst);
                }
            }
            let off = Off(inner);
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                for entry in &off.0.entries {
                    entry.refresh_now();
                }
            }
        }
    }

    /// The registries built with [`collector`](HealthRegistryBuilder::collector) on
    /// `collector` that are still alive, in the order they were built: how an exporter
    /// (the Prometheus health gauges, for one) finds the results to show, reading each
    /// with [`last_results`](Self::last_results), which never runs a check.
    ///
    /// ```
    /// use observe_core::MetricsCollector;
    /// use observe_core::health::HealthRegistry;
    ///
    /// let collector = MetricsCollector::new();
    /// assert!(HealthRegistry::attached_to(&collector).is_empty());
    /// let registry = HealthRegistry::builder().collector(&collector).build()?;
    /// assert_eq!(HealthRegistry::attached_to(&collector).len(), 1);
    /// drop(registry);
    /// assert!(HealthRegistry::attached_to(&collector).is_empty());
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    #[must_use]
    pub fn attached_to(collector: &MetricsCollector) -> Vec<HealthRegistry> {
        let attached = collector.extension(Attached::default);
        let list = attached.0.lock().unwrap_or_else(PoisonError::into_inner);
        list.iter()
            .filter_map(Weak::upgrade)
            .map(|inner| HealthRegistry { inner })
            .collect()
    }

    /// The names of the registered checks, in registration order.
    pub fn check_names(&self) -> impl Iterator<Item = &str> {
        self.inner.entries.iter().map(|e| e.name.as_str())
    }

    /// How many runs of the check named `name` started so far, or `None` for an unknown
    /// name: a diagnostic of the caching.
    #[must_use]
    pub fn runs(&self, name: &str) -> Option<u64> {
        self.inner
            .entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.runs())
    }

    /// The service's name.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The service's version.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// Time since the registry was built.
    #[must_use]
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    fn mode(&self) -> Mode {
        if self.inner.background.load(Ordering::SeqCst) {
            Mode::Background
        } else {
            Mode::OnDemand
        }
    }

    async fn evaluate(&self, wanted: impl Fn(&Entry) -> bool) -> BTreeMap<String, CheckReport> {
        let mode = self.mode();
        let chosen: Vec<&Arc<Entry>> = self.inner.entries.iter().filter(|e| wanted(e)).collect();
        // Start every run first, so waiting for several first results takes the longest
        // of them, not their sum.
        for entry in &chosen {
            entry.prime(mode);
        }
        let mut checks = BTreeMap::new();
        for entry in chosen {
            let result = entry.result(mode, self.inner.max_age).await;
            checks.insert(entry.name.clone(), report_of(entry, result));
        }
        checks
    }
}

fn report_of(entry: &Entry, result: super::CheckResult) -> CheckReport {
    CheckReport {
        result,
        critical: entry.options.critical,
        component_type: entry.component_type,
    }
}

/// The overall status of `checks`: the worst of them, where a non-critical check counts
/// at most as degraded. No checks: healthy.
///
/// ```
/// use observe_core::health::{HealthStatus::*, aggregate_status};
///
/// assert_eq!(aggregate_status([]), Healthy);
/// assert_eq!(aggregate_status([(Healthy, true), (Unhealthy, false)]), Degraded);
/// assert_eq!(aggregate_status([(Degraded, true), (Unhealthy, true)]), Unhealthy);
/// ```
pub fn aggregate_status(checks: impl IntoIterator<Item = (HealthStatus, bool)>) -> HealthStatus {
    checks
        .into_iter()
        .map(|(status, critical)| {
            if critical {
                status
            } else {
                status.min(HealthStatus::Degraded)
            }
        })
        .max()
        .unwrap_or(HealthStatus::Healthy)
}

pub(crate) fn aggregate<'a>(checks: impl IntoIterator<Item = &'a CheckReport>) -> HealthStatus {
    aggregate_status(checks.into_iter().map(|c| (c.result.status, c.critical)))
}

/// Builder for [`HealthRegistry`].
#[must_use]
pub struct HealthRegistryBuilder {
    service: String,
    version: String,
    collector: Option<MetricsCollector>,
    checks: Vec<(Arc<dyn HealthCheck>, CheckOptions)>,
    max_age: Duration,
    secrets: Vec<String>,
}

impl std::fmt::Debug for HealthRegistryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistryBuilder")
            .field("service", &self.service)
            .field("version", &self.version)
            .field(
                "checks",
                &self
                    .checks
                    .iter()
                    .map(|(c, _)| c.name())
                    .collect::<Vec<_>>(),
            )
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl HealthRegistryBuilder {
    /// The service's name and version, as reports show them (default `service` and
    /// `unknown`); typically `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")`.
    pub fn service(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.service = name.into();
        self.version = version.into();
        self
    }

    /// The collector whose summary reports include as `operation_metrics`, and on whose
    /// Prometheus registry the health gauges are exported.
    pub fn collector(mut self, collector: &MetricsCollector) -> Self {
        self.collector = Some(collector.clone());
        self
    }

    /// Registers a check with the default [`CheckOptions`].
    pub fn check(self, check: impl HealthCheck) -> Self {
        self.check_with(check, CheckOptions::default())
    }

    /// Registers a check with `options`.
    pub fn check_with(mut self, check: impl HealthCheck, options: CheckOptions) -> Self {
        self.checks.push((Arc::new(check), options));
        self
    }

    /// Registers a shared check with `options`.
    pub fn check_arc(mut self, check: Arc<dyn HealthCheck>, options: CheckOptions) -> Self {
        self.checks.push((check, options));
        self
    }

    /// How old a result may grow, because no refresh completed, before it turns
    /// unhealthy as stale (default 30 s).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// A secret to mask wherever it would appear in errors or details (passwords in
    /// connection URLs are masked anyway).
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Builds the registry.
    ///
    /// # Errors
    ///
    /// [`BuildError::DuplicateCheck`] when two checks share a name.
    pub fn build(self) -> Result<HealthRegistry, BuildError> {
        let mut seen = BTreeSet::new();
        let duplicates: BTreeSet<&str> = self
            .checks
            .iter()
            .map(|(c, _)| c.name())
            .filter(|name| !seen.insert(*name))
            .collect();
        if !duplicates.is_empty() {
            return Err(BuildError::DuplicateCheck {
                names: duplicates.into_iter().map(str::to_owned).collect(),
            });
        }
        let secrets: Arc<[String]> = self.secrets.into();
        let entries = self
            .checks
            .into_iter()
            .map(|(check, options)| Arc::new(Entry::new(check, options, Arc::clone(&secrets))))
            .collect();
        let registry = HealthRegistry {
            inner: Arc::new(Inner {
                service: self.service,
                version: self.version,
                started: Instant::now(),
                collector: self.collector,
                entries,
                max_age: self.max_age,
                background: AtomicBool::new(false),
            }),
        };
        if let Some(collector) = &registry.inner.collector {
            let attached = collector.extension(Attached::default);
            let mut list = attached.0.lock().unwrap_or_else(PoisonError::into_inner);
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&registry.inner));
        }
        Ok(registry)
    }
}
