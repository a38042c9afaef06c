//! The time source of a collector: a cheap monotonic clock, or a manual one for tests.
//!
//! Recording reads the clock once per operation to place it in the recent window and to
//! stamp `last_recorded`, so the system clock is the coarse monotonic clock of the OS
//! (a few nanoseconds, millisecond resolution). Durations themselves are measured by the
//! caller or by [`OperationTimer`](crate::OperationTimer) with a precise clock.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use observe_core::{ManualClock, MetricsCollector};
//!
//! let clock = ManualClock::new();
//! let collector = MetricsCollector::builder().clock(clock.clone()).build()?;
//! collector.record_operation("job", Duration::from_millis(5), true);
//! clock.advance(Duration::from_secs(3600));
//! // An hour later the failure has left the recent window, not the lifetime figures.
//! let op = collector.get("job").unwrap();
//! assert_eq!(op.recent.count, 0);
//! assert_eq!(op.error_count, 1);
//! # Ok::<(), observe_core::BuildError>(())
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The time source of a [`MetricsCollector`](crate::MetricsCollector).
///
/// [`Clock::system`] (the default) reads the operating system's coarse monotonic clock;
/// a [`ManualClock`] converts into a `Clock` that only moves when told to.
#[derive(Clone, Debug)]
pub struct Clock {
    kind: ClockKind,
}

#[derive(Clone, Debug)]
enum ClockKind {
    /// The coarse clock's reading, in nanoseconds, when this clock was created.
    System(u64),
    Manual(ManualClock),
}

impl Clock {
    /// The operating system's coarse monotonic clock.
    #[must_use]
    pub fn system() -> Self {
        Self {
            kind: ClockKind::System(coarse_ns()),
        }
    }

    /// Nanoseconds since this clock was created (system) or since zero (manual).
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        match &self.kind {
            ClockKind::System(origin) => coarse_ns().saturating_sub(*origin),
            ClockKind::Manual(manual) => manual.nanos.load(Ordering::Relaxed),
        }
    }
}

/// `CLOCK_MONOTONIC_COARSE` in nanoseconds, read on every record. `rustix` goes through
/// libc's `clock_gettime` (its `use-libc` backend), which reads the vDSO too: its own
/// vDSO parser crashes a process run under valgrind (rustix#1559, held by
/// `tests/valgrind.rs`).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn coarse_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs.wrapping_mul(1_000_000_000).wrapping_add(nanos)
}

/// The platform's coarse monotonic clock, through `coarsetime`, in nanoseconds.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
fn coarse_ns() -> u64 {
    let ticks = coarsetime::Instant::now_without_cache_update().as_ticks();
    coarsetime::Duration::from_ticks(ticks).as_nanos()
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Self {
        Self {
            kind: ClockKind::Manual(manual),
        }
    }
}

/// A clock that moves only when told to, so tests can drive recent windows and
/// timestamps without sleeping.
///
/// Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock at time zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// The time elapsed since zero.
    #[must_use]
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_time() {
        let manual = ManualClock::new();
        let clock = Clock::from(manual.clone());
        assert_eq!(clock.now_ns(), 0);
        manual.advance(Duration::from_millis(1500));
        assert_eq!(clock.now_ns(), 1_500_000_000);
        manual.advance(Duration::MAX);
        assert_eq!(clock.now_ns(), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let clock = Clock::system();
        let a = clock.now_ns();
        let b = clock.now_ns();
        assert!(b >= a);
    }
}
