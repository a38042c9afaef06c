//! Figures of the current process: CPU time, memory, threads and file descriptors.
//!
//! Read at call time from `/proc` on Linux, where each read costs a few system calls and
//! no dependency; on other platforms [`ProcessStats::read`] returns `None` and exporters
//! leave the figures out.

use std::time::Duration;

use serde::Serialize;

/// Figures of the current process, read at one moment.
///
/// Every field is optional: a platform or a sandbox may not expose it.
///
/// ```
/// use observe_core::ProcessStats;
///
/// if let Some(stats) = ProcessStats::read() {
///     println!("resident memory: {:?} bytes", stats.resident_memory_bytes);
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProcessStats {
    /// User and system CPU time consumed, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, in bytes.
    pub resident_memory_bytes: Option<u64>,
    /// Virtual memory size, in bytes.
    pub virtual_memory_bytes: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
    /// Number of OS threads.
    pub threads: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
}

impl ProcessStats {
    /// Reads the figures of the current process, or `None` where the platform offers
    /// none of them.
    #[must_use]
    pub fn read() -> Option<Self> {
        imp::read()
    }

    /// Process uptime from `start_time_seconds`, if known.
    #[must_use]
    pub fn uptime(&self) -> Option<Duration> {
        let start = self.start_time_seconds?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        Duration::try_from_secs_f64((now - start).max(0.0)).ok()
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::ProcessStats;
    use std::fs;

    /// `/proc` reports CPU times in `USER_HZ` ticks, which Linux fixes at 100 on every
    /// mainstream architecture whatever the kernel's own tick rate.
    const USER_HZ: f64 = 100.0;

    pub(super) fn read() -> Option<ProcessStats> {
        let mut stats = ProcessStats::default();
        if let Ok(stat) = fs::read_to_string("/proc/self/stat") {
            let fields = stat_fields(&stat);
            let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
            if let (Some(utime), Some(stime)) = (field(13), field(14)) {
                stats.cpu_seconds = Some((utime + stime) as f64 / USER_HZ);
            }
            if let (Some(start), Some(boot)) = (field(21), boot_time()) {
                stats.start_time_seconds = Some(boot as f64 + start as f64 / USER_HZ);
            }
        }
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            stats.resident_memory_bytes = status_kib(&status, "VmRSS:").map(|k| k * 1024);
            stats.virtual_memory_bytes = status_kib(&status, "VmSize:").map(|k| k * 1024);
            stats.threads = status_kib(&status, "Threads:");
        }
        stats.open_fds = fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count().saturating_sub(1) as u64); // minus the one read_dir holds
        stats.max_fds = fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| max_open_files(&limits));
        Some(stats)
    }

    /// Fields of `/proc/self/stat` after the command name, numbered from 0 as in
    /// `proc(5)` minus one (the name may contain spaces and parentheses).
    fn stat_fields(stat: &str) -> Vec<&str> {
        let after_name = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
        let mut fields = vec!["", ""]; // pid and comm
        fields.extend(after_name.split_whitespace());
        fields
    }

    fn boot_time() -> Option<u64> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    }

    fn status_kib(status: &str, key: &str) -> Option<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    fn max_open_files(limits: &str) -> Option<u64> {
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line["Max open files".len()..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stat_fields_survive_a_command_name_with_spaces_and_parentheses() {
            let stat = "42 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21";
            let fields = stat_fields(stat);
            assert_eq!(fields[2], "S");
            assert_eq!(fields[13], "11");
            assert_eq!(fields[21], "19");
        }

        #[test]
        fn limits_and_status_are_parsed() {
            let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
            assert_eq!(max_open_files(limits), Some(1024));
            let status = "Name:\tx\nVmSize:\t  10 kB\nVmRSS:\t   4 kB\nThreads:\t3\n";
            assert_eq!(status_kib(status, "VmRSS:"), Some(4));
            assert_eq!(status_kib(status, "Threads:"), Some(3));
            assert_eq!(status_kib(status, "Missing:"), None);
        }

        #[test]
        fn this_process_has_figures() {
            let stats = read().expect("linux has /proc");
            assert!(stats.resident_memory_bytes.is_some_and(|b| b > 0));
            assert!(stats.threads.is_some_and(|t| t >= 1));
            assert!(stats.open_fds.is_some_and(|n| n >= 3));
            assert!(stats.start_time_seconds.is_some_and(|s| s > 1.0e9));
            assert!(stats.uptime().is_some());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::ProcessStats;

    pub(super) fn read() -> Option<ProcessStats> {
        None
    }
}
