//! A per-thread cache in front of the collector's map, for the paths that look an
//! operation up by name.
//!
//! A service records the same few dozen names over and over, from every thread. The
//! map is shared and lock-free, but each lookup pins an epoch guard and probes a table
//! that other threads write. This cache is the thread's own: one hash of the name, a
//! set of four entries on one cache line, each with its name's hash, and one exact
//! comparison of the name. An entry is used only if it belongs to the same collector
//! and carries the same name, so a stale entry costs a miss, never a wrong record.
//!
//! Entries keep their operations alive (not their collector): at most 256 per thread,
//! until replaced or the thread ends.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::operation::{Operation, Shared};

/// Entries per thread (4 KiB), in sets of [`WAYS`].
const SLOTS: usize = 256;
const WAYS: usize = 4;

/// A cached operation, the hash of its name and the address of its collector's
/// [`Shared`] (which `op` keeps alive, so no other collector's can have it).
struct Entry {
    hash: u64,
    collector: usize,
    op: Arc<Operation>,
}

thread_local! {
    static CACHE: RefCell<[Option<Entry>; SLOTS]> =
        const { RefCell::new([const { None }; SLOTS]) };
}

/// The hash of `name` and the first slot of its set.
#[inline]
fn locate(name: &str) -> (u64, usize) {
    // A fixed seed: this cache cannot be flooded into anything worse than misses.
    let hash = foldhash::fast::FixedState::with_seed(0x6f62_7365_7276_6521).hash_one(name);
    let set = (hash >> (64 - SLOTS.trailing_zeros())) as usize & !(WAYS - 1);
    (hash, set)
}

/// Runs `f` on the operation `name` of the collector that owns `shared`, if this
/// thread has it cached; `None` otherwise (and when the thread is shutting down).
#[inline]
pub(crate) fn with<R>(
    shared: &Arc<Shared>,
    name: &str,
    f: impl FnOnce(&Arc<Operation>) -> R,
) -> Option<R> {
    CACHE
        .try_with(|cache| {
            let cache = cache.try_borrow().ok()?;
            let (hash, set) = locate(name);
            let collector = Arc::as_ptr(shared) as usize;
            let entry = cache
                .get(set..set + WAYS)?
                .iter()
                .flatten()
                .find(|e| e.hash == hash && e.collector == collector && e.op.is_named(name))?;
            Some(f(&entry.op))
        })
        .ok()
        .flatten()
}

/// Caches `op` on this thread, in a free slot of its set or in place of one picked by
/// the hash's low bits.
pub(crate) fn remember(op: &Arc<Operation>) {
    let _ = CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return;
        };
        let (hash, set) = locate(op.name());
        if let Some(ways) = cache.get_mut(set..set + WAYS) {
            let way = ways
                .iter()
                .position(Option::is_none)
                .unwrap_or(hash as usize % WAYS);
            if let Some(slot) = ways.get_mut(way) {
                *slot = Some(Entry {
                    hash,
                    collector: Arc::as_ptr(op.shared()) as usize,
                    op: Arc::clone(op),
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::MetricsCollector;
    use std::time::Duration;

    #[test]
    fn entries_of_another_collector_or_name_are_never_used() {
        let a = MetricsCollector::new();
        let b = MetricsCollector::new();
        for _ in 0..3 {
            a.record_operation("same", Duration::from_millis(1), false);
            b.record_operation("same", Duration::from_millis(2), true);
        }
        assert_eq!(
            a.get("same").map(|s| (s.count, s.error_count)),
            Some((3, 0))
        );
        assert_eq!(
            b.get("same").map(|s| (s.count, s.error_count)),
            Some((3, 3))
        );
        // Hundreds of names share 64 sets: evictions, no mix-ups.
        for round in 0..2 {
            for i in 0..600 {
                a.record_operation(&format!("op{i}"), Duration::from_micros(i), false);
                assert_eq!(a.get(&format!("op{i}")).map(|s| s.count), Some(round + 1));
            }
        }
        // Names that share their first 16 bytes, or are empty, stay apart.
        let long = [
            "sixteen_bytes_xx",
            "sixteen_bytes_xx1",
            "sixteen_bytes_xx2",
            "",
        ];
        for (i, name) in long.iter().enumerate() {
            for _ in 0..=i {
                a.record_operation(name, Duration::from_millis(1), false);
            }
        }
        for (i, name) in long.iter().enumerate() {
            assert_eq!(a.get(name).map(|s| s.count), Some(i as u64 + 1), "{name:?}");
        }
        drop(b);
        let c = MetricsCollector::new();
        c.record_operation("same", Duration::from_millis(3), false);
        assert_eq!(c.get("same").map(|s| s.count), Some(1));
        assert_eq!(a.get("same").map(|s| s.count), Some(3));
    }
}
