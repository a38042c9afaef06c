//! One read of every operation's lifetime counters, shared by both encoders.

use std::sync::{Arc, Mutex, PoisonError};

use super::native::{NativeMapper, NativeScrape, NativeSet};
use crate::collector::MetricsCollector;
use crate::engine::{Lifetime, Operation};

/// One operation's reading.
type Reading = (Arc<Operation>, Lifetime);

/// The two large vectors of a collector's last readings (about 250 KB for 1,000
/// operations), kept for its next scrape. Given back to the allocator after each
/// scrape, they sit at the top of the heap, which glibc trims and the next scrape
/// faults in again, page by page (counted: see `docs/performance.md`, "Page faults a
/// scrape"). One pair is kept; a second scrape at the same time makes its own.
#[derive(Debug, Default)]
pub(crate) struct Spare(Mutex<Option<(Vec<Reading>, Vec<u64>)>>);

impl Spare {
    fn take(&self) -> (Vec<Reading>, Vec<u64>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }

    fn put(&self, mut ops: Vec<Reading>, mut buckets: Vec<u64>) {
        // The operations' references go now; only the memory is kept.
        ops.clear();
        buckets.clear();
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((ops, buckets));
    }
}

/// The lifetime figures of every operation of a collector, sorted by name: each entry's
/// atomics are read once, before any text is written.
#[derive(Debug)]
pub(crate) struct Readings {
    ops: Vec<Reading>,
    /// `buckets_per_op` counts per operation, in the order of `ops`; not cumulative, the
    /// last one is `+Inf`.
    buckets: Vec<u64>,
    buckets_per_op: usize,
    /// Each operation's native buckets, in the order of `ops`, when asked for.
    native: Option<NativeSet>,
    /// Where `ops` and `buckets` go when the readings are dropped.
    spare: Arc<Spare>,
}

impl Drop for Readings {
    fn drop(&mut self) {
        self.spare.put(
            std::mem::take(&mut self.ops),
            std::mem::take(&mut self.buckets),
        );
    }
}

impl Readings {
    pub(crate) fn take(collector: &MetricsCollector) -> Self {
        Self::take_with(collector, None)
    }

    /// [`take`](Self::take), and with `native`, each operation's native buckets, from
    /// the same read of its lifetime counts (under the same lock).
    pub(crate) fn take_with(collector: &MetricsCollector, native: Option<&NativeMapper>) -> Self {
        let mut operations = collector.operations();
        operations.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        let buckets_per_op = collector.le_seconds().len() + 1;
        let spare = Arc::clone(collector.readings_spare());
        let (mut ops, mut buckets) = spare.take();
        ops.reserve(operations.len());
        buckets.reserve(operations.len() * buckets_per_op);
        // No lock against a reset: it leaves lifetime counts alone (the loom model
        // `a_scrape_during_a_record_and_a_reset_never_goes_back` holds it to that).
        let mut scrape = native.map(|mapper| mapper.scrape(operations.len()));
        ops.extend(operations.into_iter().map(|op| {
            let lifetime = op.read_lifetime(&mut buckets);
            // Right after the `le` read, while the operation's chunks are in cache.
            if let Some(scrape) = &mut scrape {
                scrape.map(op.name(), |fine| {
                    op.for_each_lifetime_bucket(|idx, count| fine.add(idx, count));
                });
            }
            (op, lifetime)
        }));
        let native = scrape.map(NativeScrape::finish);
        Self {
            ops,
            buckets,
            buckets_per_op,
            native,
            spare,
        }
    }

    /// How many operations were read.
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    /// The operations read, in the order of [`iter`](Self::iter).
    pub(crate) fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.ops.iter().map(|(op, _)| &**op)
    }

    /// Each operation's native buckets, if they were read, in the order of
    /// [`iter`](Self::iter).
    pub(crate) fn native(&self) -> Option<&NativeSet> {
        self.native.as_ref()
    }

    /// Each operation's name, lifetime figures and `le` counts.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Lifetime, &[u64])> {
        self.ops
            .iter()
            .zip(self.buckets.chunks_exact(self.buckets_per_op.max(1)))
            .map(|((op, lifetime), buckets)| (op.name(), lifetime, buckets))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Readings;
    use crate::MetricsCollector;

    #[test]
    fn a_scrape_keeps_its_vectors_for_the_next_and_no_operation_alive() {
        let collector = MetricsCollector::new();
        for name in ["a", "b", "c"] {
            collector.record_operation(name, Duration::from_millis(2), false);
        }
        let op = collector.operations().pop().expect("an operation");
        let references = Arc::strong_count(&op);
        let first = Readings::take(&collector);
        let counts: Vec<_> = first
            .iter()
            .map(|(n, l, _)| (n.to_owned(), l.count))
            .collect();
        drop(first);
        // The spare holds the memory (a freed vector could come back at the same
        // address, so its capacity is what tells), and not the operations.
        {
            let kept = collector.readings_spare().0.lock().expect("not poisoned");
            let (ops, buckets) = kept.as_ref().expect("the vectors are kept");
            assert!(ops.is_empty() && ops.capacity() >= 3);
            assert!(buckets.is_empty() && buckets.capacity() >= 3 * 2);
        }
        assert_eq!(Arc::strong_count(&op), references);
        drop(op);

        collector.record_operation("a", Duration::from_millis(2), false);
        let second = Readings::take(&collector);
        let taken = collector.readings_spare().0.lock().expect("not poisoned");
        assert!(taken.is_none(), "the next scrape took them");
        drop(taken);
        let again: Vec<_> = second
            .iter()
            .map(|(n, l, _)| (n.to_owned(), l.count))
            .collect();
        assert_eq!(counts.len(), again.len());
        assert_eq!(again[0], ("a".to_owned(), 2));
        assert_eq!(again[1..], counts[1..]);
    }
}
