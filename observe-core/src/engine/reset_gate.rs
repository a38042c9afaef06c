//! Keeps the JSON views from reading a collector halfway through a reset.
//!
//! A reset stores, operation by operation, what each lifetime counter holds as the base
//! that the JSON views subtract: the fine histogram's counts chunk by chunk, then the
//! errors, the total, the cancellations, min and max, and the window. A view read
//! beside it could take its count since this reset and its errors since the one before
//! (an error rate of 100 % that no moment had), or its count from before and its total
//! from after (a mean of nearly zero). The model below found exactly that.
//!
//! The gate is a sequence lock, on the JSON side only: a reset makes the sequence odd,
//! writes, and makes it even again; a view reads the sequence, reads everything, and
//! keeps what it read only if the sequence is the same even number afterwards,
//! otherwise it reads again. Recorders never touch it (their records are counted
//! whatever a reset does: see [`Counts::rebase`](crate::engine::histogram::Counts::rebase)), and
//! exporters never need it: they read only lifetime counts, which a reset leaves alone.
//! A view waits only while a reset runs (the reset of one operation is a read of its
//! chunks); two resets take turns.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crossbeam_utils::Backoff;

use super::sync::{AtomicU64, fence, spin};

/// A sequence lock between resets (writers) and the JSON views (readers).
#[derive(Debug)]
pub(crate) struct ResetGate {
    /// Even while no reset runs; odd while one does; two more per reset.
    sequence: AtomicU64,
}

impl ResetGate {
    pub(crate) fn new() -> Self {
        Self {
            sequence: AtomicU64::new(0),
        }
    }

    /// Runs `reset` with the gate shut: no view keeps a reading that overlaps it. Resets
    /// run one at a time.
    pub(crate) fn reset<R>(&self, reset: impl FnOnce() -> R) -> R {
        let backoff = Backoff::new();
        let settled = loop {
            let sequence = self.sequence.load(Relaxed);
            // Acquire: this reset begins after the previous one's writes.
            if sequence & 1 == 0
                && self
                    .sequence
                    .compare_exchange(sequence, sequence + 1, Acquire, Relaxed)
                    .is_ok()
            {
                break sequence;
            }
            spin(&backoff);
        };
        // Opens the gate again even if `reset` panics, so that views never spin forever.
        let _open = Reopen {
            gate: self,
            settled,
        };
        // A view that reads any value `reset` stores synchronizes with this fence at its
        // own acquire fence, so it sees the odd sequence (or a later one) when it checks.
        fence(Release);
        reset()
    }

    /// Reads with `read` until a reading overlaps no reset, and returns it.
    pub(crate) fn read<R>(&self, mut read: impl FnMut() -> R) -> R {
        let backoff = Backoff::new();
        loop {
            // Acquire: a view that sees a reset's closing sequence sees all it stored.
            let before = self.sequence.load(Acquire);
            if before & 1 == 0 {
                let reading = read();
                fence(Acquire);
                if self.sequence.load(Relaxed) == before {
                    return reading;
                }
            }
            spin(&backoff);
        }
    }
}

/// Makes the sequence even again when a reset ends.
struct Reopen<'a> {
    gate: &'a ResetGate,
    settled: u64,
}

impl Drop for Reopen<'_> {
    fn drop(&mut self) {
        // Release: a view that sees this sequence sees every store of the reset.
        self.gate.sequence.store(self.settled + 2, Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::ResetGate;

    #[test]
    fn a_reading_overlapping_a_reset_is_taken_again() {
        let gate = ResetGate::new();
        let mut tries = 0;
        let value = gate.read(|| {
            tries += 1;
            if tries == 1 {
                // A reset that runs while this reading does.
                gate.reset(|| ());
            }
            tries
        });
        assert_eq!((value, tries), (2, 2));
    }

    #[test]
    fn a_panicking_reset_opens_the_gate_again() {
        let gate = ResetGate::new();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gate.reset(|| panic!("a reset that fails"));
        }));
        assert!(panicked.is_err());
        assert_eq!(gate.read(|| 7), 7, "a view still reads");
        assert_eq!(gate.reset(|| 8), 8, "a reset still runs");
    }
}

/// Model checks of the gate around an operation's real reset and views, and of a scrape
/// beside a reset (`--cfg loom`; see [`crate::engine::sync`]).
#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::Arc;
    use std::time::Duration;

    use super::ResetGate;
    use crate::engine::clock::ManualClock;
    use crate::engine::operation::{Operation, Outcome, Shared};

    const NS: u64 = 1_000;

    /// An operation with two records of 1 µs, one of them an error.
    fn two_records() -> Arc<Operation> {
        let op = Arc::new(Operation::new(
            "x",
            Shared::for_tests(1, 0, ManualClock::new()),
        ));
        op.record(Duration::from_nanos(NS), Outcome::Error);
        op.record(Duration::from_nanos(NS), Outcome::Ok);
        op
    }

    /// A JSON view (count, errors and total since the reset) read while a reset runs is
    /// one the operation had, before the reset or after it, never some of each.
    #[test]
    fn a_view_during_a_reset_is_from_before_or_after_it() {
        crate::engine::sync::model(|| {
            let op = two_records();
            let gate = Arc::new(ResetGate::new());
            let resetter = {
                let (op, gate) = (Arc::clone(&op), Arc::clone(&gate));
                loom::thread::spawn(move || gate.reset(|| op.reset()))
            };
            let view = gate.read(|| op.totals());
            let seen = (view.count, view.errors, view.total_ns);
            assert!(
                matches!(seen, (2, 1, 2_000) | (0, 0, 0)),
                "a view mixing both sides of the reset: {seen:?}"
            );
            resetter.join().expect("resetter");
            let after = gate.read(|| op.totals());
            assert_eq!((after.count, after.errors, after.total_ns), (0, 0, 0));
        });
    }

    /// A scrape beside a record and a reset, without any lock: the lifetime figures it
    /// exports are the counts before or after the record, untouched by the reset, and a
    /// second scrape never shows less than the first.
    #[test]
    fn a_scrape_during_a_record_and_a_reset_never_goes_back() {
        crate::engine::sync::model(|| {
            let op = two_records();
            let writer = {
                let op = Arc::clone(&op);
                loom::thread::spawn(move || {
                    op.record(Duration::from_nanos(NS), Outcome::Ok);
                    op.reset();
                })
            };
            let first = op.lifetime_totals(NS);
            let second = op.lifetime_totals(NS);
            for (count, errors, total_ns) in [first, second] {
                assert!(matches!(count, 2 | 3) && errors == 1, "{count} {errors}");
                assert!(matches!(total_ns, 2_000 | 3_000), "{total_ns}");
            }
            assert!(second.0 >= first.0, "{first:?} then {second:?}");
            writer.join().expect("writer");
            assert_eq!(op.lifetime_totals(NS), (3, 1, 3_000));
            assert_eq!(op.totals().count, 0);
        });
    }
}
