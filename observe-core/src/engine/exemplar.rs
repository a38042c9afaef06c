//! Exemplars: per bucket of an operation's exported histogram, the latest record that
//! came with a sampled trace.
//!
//! A record with a sampled [`TraceContext`] writes its trace id, span id, duration and
//! time into the slot of its bucket. Each slot is a sequence lock made of atomics: the
//! writer makes the sequence odd, writes, and makes it even again; a reader keeps what it
//! read only if the sequence was even and unchanged around its reads. The writer takes the
//! slot with an acquiring compare-exchange, so that its field stores are ordered after
//! the previous writer's: the loom model below found a torn read (one writer's duration
//! with another's timestamp, under an unchanged even sequence) when it was relaxed. The
//! fields are release stores and acquire loads, plain moves on x86. A writer that finds
//! the slot being written gives up at once: under contention an exemplar may be lost, a
//! recorder never waits, and a reader never sees two traces' halves mixed.
//!
//! The slots of an operation are allocated by its first sampled record: an operation
//! that never sees a trace pays one pointer.

use std::sync::atomic::{Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

use super::sync::{AtomicU32, AtomicU64, OnceBox};

use super::trace_context::TraceContext;

/// One exemplar, as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exemplar {
    pub(crate) trace: TraceContext,
    /// The duration recorded, in nanoseconds.
    pub(crate) value_ns: u64,
    /// The collector's clock when it was recorded (see `Shared::wall_time`).
    pub(crate) at_ns: u64,
}

/// One bucket's latest exemplar.
#[derive(Debug)]
struct Slot {
    /// Even when settled, odd while a writer writes; 0 for never written.
    seq: AtomicU32,
    trace_high: AtomicU64,
    trace_low: AtomicU64,
    span: AtomicU64,
    value_ns: AtomicU64,
    at_ns: AtomicU64,
}

impl Slot {
    fn new() -> Self {
        Self {
            seq: AtomicU32::new(0),
            trace_high: AtomicU64::new(0),
            trace_low: AtomicU64::new(0),
            span: AtomicU64::new(0),
            value_ns: AtomicU64::new(0),
            at_ns: AtomicU64::new(0),
        }
    }

    fn store(&self, trace: &TraceContext, value_ns: u64, at_ns: u64) {
        let seq = self.seq.load(Relaxed);
        if seq & 1 == 1
            || self
                .seq
                // Acquire: this writer's stores come after the previous writer's (whose
                // even sequence it read) in every field's order, not just in time.
                .compare_exchange(seq, seq.wrapping_add(1), Acquire, Relaxed)
                .is_err()
        {
            // Another recorder is writing this slot: its exemplar will do.
            return;
        }
        // Release stores: a reader that reads any of them also sees the odd sequence
        // (the compare-exchange before them), so its final check fails. (Plain moves on
        // x86, as relaxed ones are.)
        let id = trace.trace_id();
        self.trace_high.store((id >> 64) as u64, Release);
        self.trace_low.store(id as u64, Release);
        self.span.store(trace.span_id(), Release);
        self.value_ns.store(value_ns, Release);
        self.at_ns.store(at_ns, Release);
        // Never 0 again once written: an even sequence past 0 says "an exemplar".
        let next = match seq.wrapping_add(2) {
            0 => 2,
            next => next,
        };
        self.seq.store(next, Release);
    }

    fn load(&self) -> Option<Exemplar> {
        // A slot rewritten during every try is busy enough to skip this once.
        for _ in 0..4 {
            let before = self.seq.load(Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            // Acquire loads: each one that reads a later writer's store makes that
            // writer's odd sequence visible to the check below.
            let high = self.trace_high.load(Acquire);
            let low = self.trace_low.load(Acquire);
            let span = self.span.load(Acquire);
            let value_ns = self.value_ns.load(Acquire);
            let at_ns = self.at_ns.load(Acquire);
            if self.seq.load(Relaxed) == before {
                let trace_id = u128::from(high) << 64 | u128::from(low);
                return TraceContext::new(trace_id, span, true).map(|trace| Exemplar {
                    trace,
                    value_ns,
                    at_ns,
                });
            }
        }
        None
    }
}

/// The exemplar slots of one operation, created by its first sampled record without
/// making a concurrent recorder wait (a racing loser drops its own).
#[derive(Debug, Default)]
pub(crate) struct Exemplars {
    slots: OnceBox<Box<[Slot]>>,
}

impl Exemplars {
    /// Keeps `trace` as the exemplar of bucket `idx` of `len`, if it is sampled.
    #[inline]
    pub(crate) fn store(&self, len: usize, idx: usize, trace: &TraceContext, ns: u64, at: u64) {
        if !trace.is_sampled() {
            return;
        }
        let slots = self
            .slots
            .get_or_init(|| Box::new((0..len).map(|_| Slot::new()).collect()));
        if let Some(slot) = slots.get(idx) {
            slot.store(trace, ns, at);
        }
    }

    /// The exemplar of bucket `idx`, if any.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn get(&self, idx: usize) -> Option<Exemplar> {
        self.slots.get()?.get(idx)?.load()
    }

    /// Every bucket's exemplar, in bucket order (`None` where there is none); empty when
    /// no sampled record ever came.
    pub(crate) fn all(&self) -> impl Iterator<Item = Option<Exemplar>> + '_ {
        self.slots
            .get()
            .into_iter()
            .flat_map(|s| s.iter())
            .map(Slot::load)
    }

    /// Whether any sampled record came.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.get().is_none()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots
            .get()
            .map_or(0, |s| s.len() * std::mem::size_of::<Slot>())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn trace(n: u64, sampled: bool) -> TraceContext {
        TraceContext::new(u128::from(n) << 64 | u128::from(n), n, sampled).expect("non-zero")
    }

    #[test]
    fn the_latest_sampled_record_of_a_bucket_is_kept() {
        let exemplars = Exemplars::default();
        assert!(exemplars.is_empty());
        exemplars.store(3, 1, &trace(7, false), 10, 1);
        assert!(exemplars.is_empty(), "unsampled traces allocate nothing");
        exemplars.store(3, 1, &trace(7, true), 10, 1);
        exemplars.store(3, 1, &trace(8, true), 20, 2);
        exemplars.store(3, 9, &trace(9, true), 30, 3); // out of range: ignored
        assert_eq!(exemplars.get(0), None);
        let kept = exemplars.get(1).expect("an exemplar");
        assert_eq!(
            (kept.trace, kept.value_ns, kept.at_ns),
            (trace(8, true), 20, 2)
        );
        assert_eq!(exemplars.all().flatten().count(), 1);
        assert!(exemplars.heap_bytes() > 0);
    }

    #[test]
    fn a_reader_never_sees_two_traces_mixed() {
        let slot = Slot::new();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for writer in 1..=2u64 {
                let (slot, stop) = (&slot, &stop);
                s.spawn(move || {
                    let mut n = writer;
                    while !stop.load(Relaxed) {
                        // Every field of exemplar `n` says `n`.
                        slot.store(&trace(n, true), n, n);
                        n += 2;
                    }
                });
            }
            // A read that meets a write in progress gives up (`None`): on a loaded
            // machine most reads may. Read until 1,000 have succeeded during the writes,
            // however many tries that takes, rather than counting on a number of tries.
            let (mut seen, mut tries) = (0, 0u64);
            while seen < 1_000 || tries < 200_000 {
                tries += 1;
                if let Some(e) = slot.load() {
                    let n = e.trace.span_id();
                    assert_eq!(e.trace.trace_id(), u128::from(n) << 64 | u128::from(n));
                    assert_eq!((e.value_ns, e.at_ns), (n, n), "a torn exemplar");
                    seen += 1;
                }
            }
            stop.store(true, Relaxed);
        });
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::Arc;

    use super::Slot;
    use crate::engine::trace_context::TraceContext;

    fn trace(n: u64) -> TraceContext {
        TraceContext::new((u128::from(n) << 64) | u128::from(n), n, true).expect("non-zero")
    }

    /// A slot holds one exemplar; a second recorder rewrites it while a reader reads it,
    /// and a third finds it busy: the reader sees one whole exemplar, never two traces'
    /// halves mixed; a recorder never waits (one that finds the slot busy drops its
    /// exemplar).
    #[test]
    fn exemplar_slots_never_tear() {
        crate::engine::sync::model(|| {
            let slot = Arc::new(Slot::new());
            slot.store(&trace(1), 1, 1);
            let writers: Vec<_> = [2u64, 3]
                .into_iter()
                .map(|n| {
                    let slot = Arc::clone(&slot);
                    loom::thread::spawn(move || slot.store(&trace(n), n, n))
                })
                .collect();
            if let Some(e) = slot.load() {
                let n = e.trace.span_id();
                assert_eq!(e.trace, trace(n), "a torn trace id");
                assert_eq!((e.value_ns, e.at_ns), (n, n), "a torn exemplar");
            }
            for writer in writers {
                writer.join().expect("a writer");
            }
            let last = slot.load().expect("an exemplar");
            assert!(
                [2, 3].contains(&last.trace.span_id()),
                "a later one replaced it"
            );
        });
    }
}
