//! Async health checks: a [`HealthRegistry`] of [`HealthCheck`]s, run with timeouts,
//! cached, and aggregated into a [`HealthReport`] and a [`ReadinessReport`].
//!
//! # How a report is made
//!
//! - Each check runs at most once at a time however many callers ask (single flight),
//!   in a task of its own, bounded by its timeout (2 s by default); a panic or a
//!   timeout makes it unhealthy with an error that says so.
//! - A result is served from cache for the check's TTL (1 s by default). Past it, the
//!   last result is still served while one refresh runs behind the caller's back
//!   (stale-while-revalidate): only the very first report of a check waits for it. A
//!   stalled dependency therefore shows as unhealthy within TTL + timeout, and a probe
//!   answers in microseconds whatever the dependency does.
//! - A result older than the registry's maximum age (30 s by default) is never served
//!   as it is: after an idle spell a report waits for a fresh run (bounded by the
//!   timeout, shared by every caller); when no run can replace it (the background
//!   refresh stopped, or a refresh is overdue because its task cannot run), it is
//!   reported unhealthy as stale. The Prometheus gauges show the last result as it is:
//!   use the [background mode](HealthRegistry::background) to keep them current on a
//!   service that nothing else polls.
//! - The overall status is the worst of the checks, where a non-critical check counts
//!   at most as degraded ([`aggregate_status`]):
//!
//! | critical checks | non-critical checks | overall |
//! | --- | --- | --- |
//! | all healthy | all healthy | healthy |
//! | all healthy | any degraded or unhealthy | degraded |
//! | any degraded, none unhealthy | anything | degraded |
//! | any unhealthy | anything | unhealthy |
//!
//! - Readiness evaluates the checks tagged [`READY`] only; checks tagged [`DETAILED`]
//!   run only when a report asks for details.
//! - A change of a check's status is logged once through `tracing`: a warning when it
//!   gets worse, info when it recovers.
//! - Passwords in connection URLs are masked in every error and detail, and so is any
//!   secret given to [`HealthRegistryBuilder::redact`].
//!
//! # Built-in checks
//!
//! | check | feature | what it looks at |
//! | --- | --- | --- |
//! | [`DatabaseCheck`] | `postgres`, `sqlite` | a round trip through a `sqlx` pool, and the pool's usage |
//! | [`RedisCheck`] | `redis` | `PING` latency, server version, clients, memory |
//! | [`SystemCheck`] | `system` | process memory and CPU, host memory |
//! | [`ErrorRateCheck`] | `health` | the collector's recent error rate |
//! | [`LatencyCheck`] | `health` | the recent p95 of operations |
//! | [`RuntimeCheck`] | `health` | how late the Tokio runtime starts a task |
//! | [`fn_check`] | `health` | any async closure |
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use observe_core::MetricsCollector;
//! use observe_core::health::{
//!     CheckOptions, CheckResult, ErrorRateCheck, HealthRegistry, HealthStatus, ReportOptions, RuntimeCheck,
//!     fn_check,
//! };
//!
//! let collector = MetricsCollector::new();
//! let registry = HealthRegistry::builder()
//!     .service(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
//!     .collector(&collector)
//!     .check_with(RuntimeCheck::new(), CheckOptions::new().ready())
//!     .check_with(ErrorRateCheck::new(&collector), CheckOptions::new().critical(false))
//!     .check_with(
//!         fn_check("payments_api", || async { CheckResult::healthy().with_detail("region", "eu") }),
//!         CheckOptions::new().detailed().timeout(Duration::from_secs(1)),
//!     )
//!     .build()
//!     .unwrap();
//!
//! let report = registry.report(&ReportOptions::new()).await;
//! assert_eq!(report.status, HealthStatus::Healthy);
//! assert!(!report.checks.contains_key("payments_api")); // tagged `detailed`
//!
//! let detailed = registry.report(&ReportOptions::new().detailed(true)).await;
//! assert_eq!(detailed.checks["payments_api"].result.details["region"], "eu");
//!
//! let json = serde_json::to_value(&detailed).unwrap();
//! assert_eq!(json["checks"]["runtime"]["status"], "healthy");
//! # }
//! ```

mod check;
mod checks;
mod entry;
mod options;
mod redact;
pub(crate) mod registry;
mod report;
mod status;

pub use check::{BoxFuture, CheckResult, FnCheck, HealthCheck, PoolStats, fn_check};
pub use checks::*;
pub use options::{CheckOptions, DETAILED, READY};
pub use registry::{HealthRegistry, HealthRegistryBuilder, ReportOptions, aggregate_status};
pub use report::{CheckReport, HealthReport, ReadinessReport};
pub use status::HealthStatus;
