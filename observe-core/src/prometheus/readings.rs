//! One read of every operation's lifetime counters, shared by both encoders.

use std::sync::Arc;

use super::native::{NativeMapper, NativeScrape, NativeSet};
use crate::collector::MetricsCollector;
use crate::operation::{Lifetime, Operation};

/// The lifetime figures of every operation of a collector, sorted by name: each entry's
/// atomics are read once, before any text is written.
#[derive(Debug)]
pub(crate) struct Readings {
    ops: Vec<(Arc<Operation>, Lifetime)>,
    /// `buckets_per_op` counts per operation, in the order of `ops`; not cumulative, the
    /// last one is `+Inf`.
    buckets: Vec<u64>,
    buckets_per_op: usize,
    /// Each operation's native buckets, in the order of `ops`, when asked for.
    native: Option<NativeSet>,
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
        let mut buckets = Vec::with_capacity(operations.len() * buckets_per_op);
        let _no_reset = collector.exporting();
        let mut scrape = native.map(|mapper| mapper.scrape(operations.len()));
        let ops: Vec<_> = operations
            .into_iter()
            .map(|op| {
                let lifetime = op.read_lifetime(&mut buckets);
                // Right after the `le` read, while the operation's chunks are in cache.
                if let Some(scrape) = &mut scrape {
                    scrape.map(op.name(), |fine| {
                        op.for_each_lifetime_bucket(|idx, count| fine.add(idx, count));
                    });
                }
                (op, lifetime)
            })
            .collect();
        let native = scrape.map(NativeScrape::finish);
        Self {
            ops,
            buckets,
            buckets_per_op,
            native,
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
