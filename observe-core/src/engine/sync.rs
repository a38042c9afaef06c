//! The synchronisation primitives of the recording engine, in one place so that a
//! `--cfg loom` build can swap them for [`loom`](https://docs.rs/loom)'s and model-check
//! the protocols built on them (the carry of a bucket, the creation of a chunk or a
//! stripe, the window's checkpoint, the exemplar slots, the reset gate): see the `loom`
//! tests of `histogram`, `window`, `operation`, `exemplar` and `reset_gate`.
//!
//! Run the models with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p observe-core --no-default-features --lib loom
//! ```

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, fence};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, fence};

/// A box set at most once, lock-free: of several threads that race to set it, each
/// builds its own value, one wins, and the others drop theirs and use the winner's. No
/// thread ever waits for another (unlike `OnceLock`, whose losers block until the
/// winner's initialiser returns).
#[cfg(not(loom))]
pub(crate) use once_cell::race::OnceBox;

/// Spins once in a wait loop.
#[cfg(not(loom))]
#[inline]
pub(crate) fn spin(backoff: &crossbeam_utils::Backoff) {
    backoff.snooze();
}

/// Spins once in a wait loop: under loom, lets the other threads run.
#[cfg(loom)]
pub(crate) fn spin(_: &crossbeam_utils::Backoff) {
    loom::thread::yield_now();
}

/// Loom's stand-in for `once_cell::race::OnceBox`, with the same protocol: an acquire
/// load to get, a compare-exchange (acquire-release) from empty to publish, and the
/// loser of a race taking the winner's value. The values live in a leaked arena (a
/// model is small), so the cell itself is one loom atomic: an index, 0 for empty.
#[cfg(loom)]
pub(crate) struct OnceBox<T: 'static> {
    state: AtomicUsize,
    values: std::sync::Mutex<Vec<&'static T>>,
}

#[cfg(loom)]
impl<T: 'static> std::fmt::Debug for OnceBox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnceBox")
    }
}

#[cfg(loom)]
impl<T: 'static> Default for OnceBox<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(loom)]
impl<T: 'static> OnceBox<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            values: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn value(&self, state: usize) -> &'static T {
        let values = self.values.lock().expect("loom arena");
        values[state - 1]
    }

    pub(crate) fn get(&self) -> Option<&T> {
        use std::sync::atomic::Ordering::Acquire;
        let state = self.state.load(Acquire);
        (state != 0).then(|| self.value(state))
    }

    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> Box<T>) -> &T {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        if let Some(value) = self.get() {
            return value;
        }
        let mine: &'static T = Box::leak(init());
        let index = {
            let mut values = self.values.lock().expect("loom arena");
            values.push(mine);
            values.len()
        };
        match self.state.compare_exchange(0, index, AcqRel, Acquire) {
            Ok(_) => mine,
            Err(winner) => self.value(winner),
        }
    }
}

/// Runs a loom model with this crate's bounds: at most 2 preemptions (unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise) and room for the branches of a chunk's
/// creation (each of its atomics is one).
#[cfg(all(test, loom))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 1_000_000;
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}
