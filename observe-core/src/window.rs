//! A ring of time slots holding the recent behaviour of one operation.
//!
//! Health decisions need what happened in the last minute, not since start: a lifetime
//! error rate hides a fresh outage after a long uptime. Each slot covers
//! `window / slots` of time and holds the slot's error count and a coarse latency
//! histogram (8 buckets per power of two, so a recent quantile is within 6.25 %); its
//! count is the sum of that histogram. The first recorder to reach a slot whose time has
//! passed claims and clears it, so recording stays lock-free; a record racing with that
//! clearing by a few nanoseconds may be lost from the window (never from the lifetime
//! figures).

use std::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed};
use std::time::Duration;

use crate::histogram::{Counts, Layout, quantile_bucket};

/// Recent figures read from a window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct WindowReading {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    /// Length of time the reading covers.
    pub(crate) covered: Duration,
    pub(crate) p95_ns: Option<u64>,
}

#[derive(Debug)]
struct Slot {
    /// `1 + now / slot_ns` of the period this slot holds; 0 for never used.
    epoch: AtomicU64,
    errors: AtomicU64,
    histogram: Counts,
}

/// The recent window of one operation.
#[derive(Debug)]
pub(crate) struct Window {
    slots: Box<[Slot]>,
    slot_ns: u64,
}

impl Window {
    pub(crate) fn new(layout: Layout, length: Duration, slots: usize) -> Self {
        let slots = slots.max(1);
        let slot_ns = (u64::try_from(length.as_nanos()).unwrap_or(u64::MAX) / slots as u64).max(1);
        Self {
            slots: (0..slots)
                .map(|_| Slot {
                    epoch: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    histogram: Counts::new(layout.coarse_buckets()),
                })
                .collect(),
            slot_ns,
        }
    }

    fn epoch(&self, now_ns: u64) -> u64 {
        now_ns / self.slot_ns + 1
    }

    fn slot(&self, epoch: u64) -> &Slot {
        &self.slots[(epoch % self.slots.len() as u64) as usize]
    }

    /// Records one operation that ended at `now_ns`, in coarse bucket `coarse`.
    #[inline]
    pub(crate) fn record(&self, now_ns: u64, coarse: usize, failed: bool) {
        let epoch = self.epoch(now_ns);
        let slot = self.slot(epoch);
        let current = slot.epoch.load(Acquire);
        if current != epoch {
            if current > epoch {
                // A clock that went backwards: the slot now holds a later period.
                return;
            }
            if slot
                .epoch
                .compare_exchange(current, epoch, AcqRel, Acquire)
                .is_ok()
            {
                slot.errors.store(0, Relaxed);
                slot.histogram.clear();
            }
        }
        slot.histogram.increment(coarse);
        if failed {
            slot.errors.fetch_add(1, Relaxed);
        }
    }

    /// Reads the slots still inside the window at `now_ns`; `age_ns` is how long the
    /// owner has existed, so a young window does not report a rate over time it never saw.
    pub(crate) fn read(&self, layout: Layout, now_ns: u64, age_ns: u64) -> WindowReading {
        let now_epoch = self.epoch(now_ns);
        let oldest = now_epoch.saturating_sub(self.slots.len() as u64 - 1).max(1);
        let mut merged = vec![0u64; layout.coarse_buckets()];
        let mut reading = WindowReading::default();
        for slot in self.slots.iter() {
            let epoch = slot.epoch.load(Acquire);
            if epoch == 0 || epoch < oldest || epoch > now_epoch {
                continue;
            }
            let counts = slot.histogram.read();
            let errors = slot.errors.load(Relaxed);
            // A slot claimed for a later period while we read it no longer belongs here.
            if slot.epoch.load(Acquire) != epoch {
                continue;
            }
            for (sum, count) in merged.iter_mut().zip(counts) {
                *sum += count;
            }
            reading.errors += errors;
        }
        reading.count = merged.iter().sum();
        reading.errors = reading.errors.min(reading.count);
        let window_start = (oldest - 1).saturating_mul(self.slot_ns);
        let covered = now_ns.saturating_sub(window_start).min(age_ns).max(1);
        reading.covered = Duration::from_nanos(covered);
        reading.p95_ns =
            quantile_bucket(&merged, reading.count, 0.95).map(|b| layout.coarse_mid_ns(b));
        reading
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        for slot in self.slots.iter() {
            slot.epoch.store(0, Relaxed);
            slot.errors.store(0, Relaxed);
            slot.histogram.clear();
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots
            .iter()
            .map(|s| std::mem::size_of::<Slot>() + s.histogram.heap_bytes())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::DEFAULT_PRECISION;

    const LAYOUT: Layout = Layout::new(DEFAULT_PRECISION);
    const SEC: u64 = 1_000_000_000;

    fn window() -> Window {
        Window::new(LAYOUT, Duration::from_secs(60), 6)
    }

    #[test]
    fn records_within_the_window_are_counted() {
        let w = window();
        w.record(SEC, LAYOUT.index(1_000_000) >> LAYOUT.coarse_shift(), false);
        w.record(15 * SEC, 3, true);
        let r = w.read(LAYOUT, 20 * SEC, 20 * SEC);
        assert_eq!((r.count, r.errors), (2, 1));
        assert_eq!(r.covered, Duration::from_secs(20));
    }

    #[test]
    fn records_older_than_the_window_leave_it() {
        let w = window();
        w.record(SEC, 3, true);
        w.record(55 * SEC, 3, false);
        let r = w.read(LAYOUT, 65 * SEC, 65 * SEC);
        assert_eq!((r.count, r.errors), (1, 0));
        let r = w.read(LAYOUT, 200 * SEC, 200 * SEC);
        assert_eq!((r.count, r.errors, r.p95_ns), (0, 0, None));
        // Five whole slots and the current one, just begun.
        assert_eq!(r.covered, Duration::from_secs(50));
        let r = w.read(LAYOUT, 209 * SEC, 209 * SEC);
        assert_eq!(r.covered, Duration::from_secs(59));
    }

    #[test]
    fn a_reused_slot_is_cleared_first() {
        let w = window();
        w.record(SEC, 3, true);
        w.record(61 * SEC, 3, false); // same slot, a later period
        let r = w.read(LAYOUT, 61 * SEC, 61 * SEC);
        assert_eq!((r.count, r.errors), (1, 0));
    }

    #[test]
    fn a_clock_going_backwards_is_ignored_not_a_panic() {
        let w = window();
        w.record(61 * SEC, 3, false);
        w.record(SEC, 3, true);
        let r = w.read(LAYOUT, 61 * SEC, 61 * SEC);
        assert_eq!((r.count, r.errors), (1, 0));
    }
}
