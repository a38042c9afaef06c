//! [`SystemCheck`]: the process's memory and CPU and the host's memory, via `sysinfo`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::health::{BoxFuture, CheckResult, HealthCheck, HealthStatus};

const MIB: u64 = 1024 * 1024;

/// The thresholds of a [`SystemCheck`].
///
/// Defaults: process resident memory degraded at 300 MiB and unhealthy at 500 MiB; host
/// memory in use degraded at 85 %; process CPU (share of all cores) degraded at 80 %.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SystemThresholds {
    /// Process resident memory, in bytes, from which the check is degraded.
    pub process_memory_degraded: u64,
    /// Process resident memory, in bytes, from which the check is unhealthy.
    pub process_memory_unhealthy: u64,
    /// Host memory in use, in percent, from which the check is degraded.
    pub host_memory_degraded_percent: f64,
    /// Host memory in use, in percent, from which the check is unhealthy (default: none).
    pub host_memory_unhealthy_percent: Option<f64>,
    /// Process CPU over all cores, in percent, from which the check is degraded.
    pub cpu_degraded_percent: f64,
    /// Process CPU over all cores, in percent, from which the check is unhealthy
    /// (default: none).
    pub cpu_unhealthy_percent: Option<f64>,
}

impl Default for SystemThresholds {
    fn default() -> Self {
        Self {
            process_memory_degraded: 300 * MIB,
            process_memory_unhealthy: 500 * MIB,
            host_memory_degraded_percent: 85.0,
            host_memory_unhealthy_percent: None,
            cpu_degraded_percent: 80.0,
            cpu_unhealthy_percent: None,
        }
    }
}

/// The process's resident memory and CPU, and the host's memory, against
/// [`SystemThresholds`]. `sysinfo` is refreshed at most once per interval (default 5 s),
/// not on every check.
///
/// ```
/// use observe_core::health::{SystemCheck, SystemThresholds};
///
/// let mut thresholds = SystemThresholds::default();
/// thresholds.process_memory_unhealthy = 2 * 1024 * 1024 * 1024;
/// let check = SystemCheck::new().thresholds(thresholds);
/// # let _ = check;
/// ```
pub struct SystemCheck {
    name: String,
    thresholds: SystemThresholds,
    refresh_interval: Duration,
    state: Mutex<Sampler>,
}

struct Sampler {
    /// `None` where `sysinfo` does not support the platform.
    system: Option<System>,
    pid: Option<Pid>,
    last: Option<(Instant, Sample)>,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    rss: Option<u64>,
    cpu_percent: Option<f64>,
    host_used: u64,
    host_total: u64,
}

impl std::fmt::Debug for SystemCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemCheck")
            .field("name", &self.name)
            .field("thresholds", &self.thresholds)
            .field("refresh_interval", &self.refresh_interval)
            .finish_non_exhaustive()
    }
}

impl Default for SystemCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemCheck {
    /// A check named `system` with the default thresholds.
    #[must_use]
    pub fn new() -> Self {
        Self {
            name: "system".to_owned(),
            thresholds: SystemThresholds::default(),
            refresh_interval: Duration::from_secs(5),
            state: Mutex::new(Sampler {
                system: System::new().ok(),
                pid: sysinfo::get_current_pid().ok(),
                last: None,
            }),
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the thresholds.
    #[must_use]
    pub fn thresholds(mut self, thresholds: SystemThresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// How often `sysinfo` is refreshed at most (default 5 s).
    #[must_use]
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    fn sample(&self) -> Option<Sample> {
        let mut sampler = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, sample)) = sampler.last
            && at.elapsed() < self.refresh_interval
        {
            return Some(sample);
        }
        let measured_before = sampler.last.is_some();
        let Sampler { system, pid, .. } = &mut *sampler;
        let system = system.as_mut()?;
        system.refresh_memory();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as f64;
        let (rss, cpu_percent) = match *pid {
            Some(pid) => {
                system.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&[pid]),
                    true,
                    ProcessRefreshKind::nothing().with_memory().with_cpu(),
                );
                let process = system.process(pid);
                (
                    process.map(sysinfo::Process::memory),
                    // The first reading has no interval to measure CPU over.
                    process
                        .filter(|_| measured_before)
                        .map(|p| f64::from(p.cpu_usage()) / cores),
                )
            }
            None => (None, None),
        };
        let sample = Sample {
            rss,
            cpu_percent,
            host_used: system.used_memory(),
            host_total: system.total_memory(),
        };
        sampler.last = Some((Instant::now(), sample));
        Some(sample)
    }

    fn evaluate(&self) -> CheckResult {
        let Some(s) = self.sample() else {
            return CheckResult::healthy()
                .with_detail("note", "system figures are not available on this platform");
        };
        let t = &self.thresholds;
        let host_percent = crate::views::percent(s.host_used, s.host_total);
        let mut result = CheckResult::healthy();
        if let Some(rss) = s.rss {
            let status = if rss >= t.process_memory_unhealthy {
                HealthStatus::Unhealthy
            } else if rss >= t.process_memory_degraded {
                HealthStatus::Degraded
            } else {
                HealthStatus::Healthy
            };
            result = result.at_least(status, format!("process memory is {} MiB", rss / MIB));
            result = result.with_detail("process_memory_bytes", rss);
        }
        let host_status = match t.host_memory_unhealthy_percent {
            Some(limit) if host_percent >= limit => HealthStatus::Unhealthy,
            _ if host_percent >= t.host_memory_degraded_percent => HealthStatus::Degraded,
            _ => HealthStatus::Healthy,
        };
        result = result.at_least(
            host_status,
            format!("host memory is {host_percent:.1}% used"),
        );
        if let Some(cpu) = s.cpu_percent {
            let status = match t.cpu_unhealthy_percent {
                Some(limit) if cpu >= limit => HealthStatus::Unhealthy,
                _ if cpu >= t.cpu_degraded_percent => HealthStatus::Degraded,
                _ => HealthStatus::Healthy,
            };
            result = result.at_least(status, format!("process CPU is {cpu:.1}% of all cores"));
            result = result.with_detail("process_cpu_percent", (cpu * 10.0).round() / 10.0);
        }
        result
            .with_detail("host_memory_used_bytes", s.host_used)
            .with_detail("host_memory_total_bytes", s.host_total)
            .with_detail("host_memory_percent", (host_percent * 10.0).round() / 10.0)
            .with_detail("process_memory_degraded_bytes", t.process_memory_degraded)
            .with_detail("process_memory_unhealthy_bytes", t.process_memory_unhealthy)
    }
}

impl HealthCheck for SystemCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(async move { self.evaluate() })
    }

    fn component_type(&self) -> &'static str {
        "system"
    }
}
