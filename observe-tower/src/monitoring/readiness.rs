//! [`Readiness`]: the switch a server turns off to drain, and the record of how long
//! readiness has been failing, for the opt-in liveness limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A handle to turn readiness off (draining) and on again. Clones share the switch.
///
/// ```
/// use observe_tower::monitoring::Readiness;
///
/// let readiness = Readiness::new();
/// assert!(!readiness.is_draining());
/// readiness.drain(); // on SIGTERM: /ready answers 503 from now on
/// assert!(readiness.is_draining());
/// readiness.resume();
/// ```
#[derive(Clone, Debug)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    draining: AtomicBool,
    origin: Instant,
    /// `1 + ns since origin` when readiness started failing; 0 while it passes.
    failing_since: AtomicU64,
}

impl Readiness {
    /// A switch that starts ready.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                draining: AtomicBool::new(false),
                origin: Instant::now(),
                failing_since: AtomicU64::new(0),
            }),
        }
    }

    /// Turns readiness off: `/ready` answers 503 until [`resume`](Self::resume).
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Turns readiness back on.
    pub fn resume(&self) {
        self.inner.draining.store(false, Ordering::SeqCst);
    }

    /// Whether the service was told to drain.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Notes the outcome of a readiness evaluation and returns how long it has been
    /// failing without interruption.
    pub(crate) fn observe(&self, ready: bool) -> Duration {
        let now = u64::try_from(self.inner.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if ready {
            self.inner.failing_since.store(0, Ordering::Relaxed);
            return Duration::ZERO;
        }
        let since = match self.inner.failing_since.compare_exchange(
            0,
            now.saturating_add(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => now,
            Err(stamp) => stamp - 1,
        };
        Duration::from_nanos(now.saturating_sub(since))
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}
