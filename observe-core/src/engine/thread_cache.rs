//! A per-thread cache in front of the collector's map, for the paths that look an
//! operation up by name.
//!
//! A service records the same few dozen names over and over, from every thread. The
//! map is shared and lock-free, but each lookup pins an epoch guard and probes a table
//! that other threads write. This cache is the thread's own: one hash of the name, a
//! set of eight entries on two cache lines, each with its name's hash, and one exact
//! comparison of the name. An entry is used only if its operation belongs to the same
//! collector and carries the same name, so a stale entry costs a miss, never a wrong
//! record.
//!
//! 512 entries hold a few hundred names without two of them taking turns in one set
//! (200 names of the form `op_000` fill no set past its eight ways). A full set gives up
//! its entries in turn, not by hash, so names that do share a set are not evicted by
//! the same neighbour on every pass.
//!
//! Entries keep their operations alive (not their collector): at most 512 per thread,
//! until replaced or the thread ends, in 8 KiB of the thread's own storage.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::operation::{Operation, Shared};

/// Entries per thread (8 KiB), in sets of [`WAYS`].
const SLOTS: usize = 512;
const WAYS: usize = 8;

/// A cached operation and the hash of its name. The operation's collector is told by
/// the address of its [`Shared`], which `op` keeps alive, so no other collector can
/// have it meanwhile.
struct Entry {
    hash: u64,
    op: Arc<Operation>,
}

struct Cache {
    entries: [Option<Entry>; SLOTS],
    /// Picks the way a full set gives up next.
    next_victim: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            entries: [const { None }; SLOTS],
            next_victim: 0,
        })
    };
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
            let entry = cache
                .entries
                .get(set..set + WAYS)?
                .iter()
                .flatten()
                .find(|e| {
                    e.hash == hash && Arc::ptr_eq(e.op.shared(), shared) && e.op.is_named(name)
                })?;
            Some(f(&entry.op))
        })
        .ok()
        .flatten()
}

/// Caches `op` on this thread, in a free slot of its set or in place of the set's
/// entries in turn.
pub(crate) fn remember(op: &Arc<Operation>) {
    let _ = CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return;
        };
        let (hash, set) = locate(op.name());
        let victim = cache.next_victim;
        let Some(ways) = cache.entries.get_mut(set..set + WAYS) else {
            return;
        };
        let way = match ways.iter().position(Option::is_none) {
            Some(free) => free,
            None => victim % WAYS,
        };
        if let Some(slot) = ways.get_mut(way) {
            *slot = Some(Entry {
                hash,
                op: Arc::clone(op),
            });
        }
        cache.next_victim = victim.wrapping_add(1);
        #[cfg(test)]
        tests::REMEMBERED.set(tests::REMEMBERED.get() + 1);
    });
}

#[cfg(test)]
mod tests {
    use crate::MetricsCollector;
    use std::cell::Cell;
    use std::time::Duration;

    thread_local! {
        /// How many entries this thread's cache took.
        pub(super) static REMEMBERED: Cell<u64> = const { Cell::new(0) };
    }

    #[test]
    fn two_hundred_names_stay_cached_on_a_second_pass() {
        let collector = MetricsCollector::new();
        let names: Vec<String> = (0..200).map(|i| format!("op_{i:03}")).collect();
        for name in &names {
            collector.record_operation(name, Duration::from_micros(5), false);
        }
        let after_first = REMEMBERED.get();
        assert!(
            after_first >= 200,
            "each name was cached once: {after_first}"
        );
        for name in &names {
            collector.record_operation(name, Duration::from_micros(5), false);
        }
        assert_eq!(REMEMBERED.get(), after_first, "the second pass missed");
        assert_eq!(collector.get("op_199").map(|s| s.count), Some(2));
    }

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
        // Far more names than entries: evictions, no mix-ups.
        for round in 0..2 {
            for i in 0..1_500 {
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
