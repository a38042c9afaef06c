//! The one value the layer keeps in each span's extensions: when the span began, when
//! it was last exited, how long it was entered, and what its events and fields said.
//!
//! Everything is an atomic so that the layer reaches it through the span's shared
//! extensions (`extensions()`), even for a span entered on several threads at once.

use std::sync::Arc;
use std::sync::atomic::{
    AtomicU8, AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
};

use crate::engine::TraceContext;
use crate::engine::{Operation, Outcome};

/// An event with an `error` field and no message (`#[instrument(err)]`).
const ERROR_EVENT: u8 = 1;
/// An `ERROR`-level event.
const ERROR_LEVEL: u8 = 1 << 1;
/// A `return` event (`#[instrument(ret)]`).
const RETURNED: u8 = 1 << 2;
/// The span's declared `error` field was recorded.
const ERROR_FIELD: u8 = 1 << 3;
/// `otel.status_code` said `ok` (and the other status bit is clear) or `error`.
const STATUS_OK: u8 = 1 << 4;
const STATUS_ERROR: u8 = 1 << 5;
const STATUS: u8 = STATUS_OK | STATUS_ERROR;

/// Bits of [`Busy::state`] holding the time, in nanoseconds since the span began, at
/// which the span's current stretch of being entered started (78 hours).
const SINCE_BITS: u32 = 48;
const SINCE_MASK: u64 = (1 << SINCE_BITS) - 1;
/// One entry in [`Busy::state`]'s depth, above the time.
const DEPTH_ONE: u64 = 1 << SINCE_BITS;

/// The time a span was entered, counted once however many threads enter it at once.
#[derive(Debug, Default)]
struct Busy {
    /// How many entries are open (top 16 bits) and when the first of them began (low
    /// 48 bits): one word, so that an exit and an entry racing on two threads cannot
    /// mix one's depth with the other's start.
    state: AtomicU64,
    /// Nanoseconds entered, over the stretches that have ended.
    total_ns: AtomicU64,
}

impl Busy {
    fn enter(&self, now_ns: u64) {
        let now = now_ns.min(SINCE_MASK);
        let _ = self.state.fetch_update(AcqRel, Acquire, |state| {
            if state >> SINCE_BITS == 0 {
                Some(DEPTH_ONE | now)
            } else {
                state.checked_add(DEPTH_ONE)
            }
        });
    }

    fn exit(&self, now_ns: u64) {
        let now = now_ns.min(SINCE_MASK);
        let before = self
            .state
            .fetch_update(AcqRel, Acquire, |state| match state >> SINCE_BITS {
                0 => None,
                1 => Some(now),
                _ => Some(state - DEPTH_ONE),
            });
        if let Ok(state) = before
            && state >> SINCE_BITS == 1
        {
            self.total_ns
                .fetch_add(now.saturating_sub(state & SINCE_MASK), Relaxed);
        }
    }

    /// The time entered, counting a stretch still open up to `now_ns`.
    fn total(&self, now_ns: u64) -> u64 {
        let state = self.state.load(Acquire);
        let open = if state >> SINCE_BITS == 0 {
            0
        } else {
            now_ns.min(SINCE_MASK).saturating_sub(state & SINCE_MASK)
        };
        self.total_ns.load(Relaxed) + open
    }
}

/// The layer's state of one span.
#[derive(Debug)]
pub(super) struct SpanState {
    /// The precise clock's raw reading when the span was created.
    start: u64,
    /// Nanoseconds from the start to the latest exit, plus one; 0 for never exited.
    last_exit: AtomicU64,
    busy: Option<Busy>,
    flags: AtomicU8,
    /// The operation named by `otel.name`, when the span set one.
    pub(super) renamed: Option<Arc<Operation>>,
    /// The OpenTelemetry context current when the span was created: its parent's, not
    /// its own (see [`super::otel`]).
    #[cfg(feature = "opentelemetry")]
    pub(super) outside: Option<TraceContext>,
    /// The span's own OpenTelemetry context, once seen.
    #[cfg(feature = "opentelemetry")]
    trace: std::sync::OnceLock<TraceContext>,
    /// Whether to look for it still: from creation to the first exit, by then it was
    /// current in either order of the layers, or it never will be.
    #[cfg(feature = "opentelemetry")]
    looking: std::sync::atomic::AtomicBool,
}

impl SpanState {
    /// The state of a new span; `trace_ids` says whether to look for its OpenTelemetry
    /// context (ignored without the `opentelemetry` feature).
    pub(super) fn new(busy: bool, trace_ids: bool) -> Self {
        #[cfg(not(feature = "opentelemetry"))]
        let _ = trace_ids;
        Self {
            start: crate::engine::precise().raw(),
            last_exit: AtomicU64::new(0),
            busy: busy.then(Busy::default),
            flags: AtomicU8::new(0),
            renamed: None,
            #[cfg(feature = "opentelemetry")]
            outside: if trace_ids {
                super::otel::current()
            } else {
                None
            },
            #[cfg(feature = "opentelemetry")]
            trace: std::sync::OnceLock::new(),
            #[cfg(feature = "opentelemetry")]
            looking: std::sync::atomic::AtomicBool::new(trace_ids),
        }
    }

    /// The trace the span belongs to, if the tracing system gave it one.
    #[inline]
    pub(super) fn trace(&self) -> Option<&TraceContext> {
        #[cfg(feature = "opentelemetry")]
        {
            self.trace.get()
        }
        #[cfg(not(feature = "opentelemetry"))]
        {
            None
        }
    }

    /// Looks for the span's own OpenTelemetry context while it is entered or exited, up
    /// to its first exit (`last`).
    #[inline]
    fn see_trace(&self, last: bool) {
        #[cfg(feature = "opentelemetry")]
        if self.looking.load(Relaxed) {
            if let Some(current) = super::otel::current()
                && Some(current) != self.outside
            {
                let _ = self.trace.set(current);
            }
            if last || self.trace.get().is_some() {
                self.looking.store(false, Relaxed);
            }
        }
        #[cfg(not(feature = "opentelemetry"))]
        let _ = last;
    }

    /// Nanoseconds since the span was created.
    #[inline]
    fn elapsed_ns(&self) -> u64 {
        let clock = crate::engine::precise();
        clock.delta_as_nanos(self.start, clock.raw())
    }

    #[inline]
    pub(super) fn enter(&self) {
        self.see_trace(false);
        if let Some(busy) = &self.busy {
            busy.enter(self.elapsed_ns());
        }
    }

    #[inline]
    pub(super) fn exit(&self) {
        self.see_trace(true);
        let now = self.elapsed_ns();
        // A load and a store, not a read-modify-write: exits of one span on two threads
        // at the same nanosecond are rare, and either one's time will do.
        let stamp = now.saturating_add(1);
        if stamp > self.last_exit.load(Relaxed) {
            self.last_exit.store(stamp, Relaxed);
        }
        if let Some(busy) = &self.busy {
            busy.exit(now);
        }
    }

    /// The wall time (creation to the latest exit, or to now for a span never entered)
    /// and the busy time, if kept.
    pub(super) fn close(&self) -> (u64, Option<u64>) {
        let now = self.elapsed_ns();
        let wall = match self.last_exit.load(Relaxed) {
            0 => now,
            exit => exit - 1,
        };
        (wall, self.busy.as_ref().map(|busy| busy.total(now)))
    }

    pub(super) fn error_event(&self) {
        self.flags.fetch_or(ERROR_EVENT, Relaxed);
    }

    pub(super) fn error_level(&self) {
        self.flags.fetch_or(ERROR_LEVEL, Relaxed);
    }

    pub(super) fn returned(&self) {
        self.flags.fetch_or(RETURNED, Relaxed);
    }

    pub(super) fn error_field(&self) {
        self.flags.fetch_or(ERROR_FIELD, Relaxed);
    }

    /// `otel.status_code` was recorded as `value`: the latest status recorded counts.
    pub(super) fn status(&self, value: &str) {
        let bit = if value.eq_ignore_ascii_case("ok") {
            STATUS_OK
        } else if value.eq_ignore_ascii_case("error") {
            STATUS_ERROR
        } else {
            // `unset`, or anything else: no status.
            0
        };
        let _ = self
            .flags
            .fetch_update(Relaxed, Relaxed, |flags| Some((flags & !STATUS) | bit));
    }

    /// How the span ended. `returns` says its callsite is known to emit a `return`
    /// event on completion; `error_level_is_error` is the layer's option.
    pub(super) fn outcome(&self, returns: bool, error_level_is_error: bool) -> Outcome {
        let flags = self.flags.load(Relaxed);
        let errored = flags & (ERROR_EVENT | ERROR_FIELD | STATUS_ERROR) != 0
            || (error_level_is_error && flags & ERROR_LEVEL != 0);
        if flags & STATUS_OK != 0 {
            Outcome::Ok
        } else if errored {
            Outcome::Error
        } else if returns && flags & RETURNED == 0 {
            Outcome::Cancelled
        } else {
            Outcome::Ok
        }
    }
}

/// The states of one span, one per observe layer of the subscriber (almost always one):
/// the value in the span's extensions, which hold one value per type.
#[derive(Debug)]
pub(super) struct SpanStates {
    /// The layer that made `state` (the address of its shared decisions).
    owner: usize,
    state: SpanState,
    /// The states of further observe layers on the same subscriber.
    others: Vec<(usize, SpanState)>,
}

impl SpanStates {
    pub(super) fn new(owner: usize, state: SpanState) -> Self {
        Self {
            owner,
            state,
            others: Vec::new(),
        }
    }

    /// The state that layer `owner` keeps.
    #[inline]
    pub(super) fn get(&self, owner: usize) -> Option<&SpanState> {
        if self.owner == owner {
            Some(&self.state)
        } else {
            self.others
                .iter()
                .find(|(o, _)| *o == owner)
                .map(|(_, s)| s)
        }
    }

    /// Adds the state of another layer.
    pub(super) fn push(&mut self, owner: usize, state: SpanState) {
        self.others.push((owner, state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_counts_overlapping_entries_once() {
        let busy = Busy::default();
        busy.enter(100);
        busy.enter(150); // a second thread, while the first is inside
        busy.exit(200);
        busy.exit(300);
        assert_eq!(busy.total(1_000), 200);
        busy.enter(400);
        assert_eq!(busy.total(450), 250, "an open stretch counts up to now");
        busy.exit(500);
        busy.exit(600); // an exit without an entry changes nothing
        assert_eq!(busy.total(1_000), 300);
    }

    #[test]
    fn the_latest_status_wins_and_ok_wins_over_error_events() {
        let state = SpanState::new(false, false);
        state.error_event();
        assert_eq!(state.outcome(false, false), Outcome::Error);
        state.status("OK");
        assert_eq!(state.outcome(false, false), Outcome::Ok);
        state.status("Error");
        assert_eq!(state.outcome(false, false), Outcome::Error);
        state.status("unset");
        assert_eq!(
            state.outcome(false, false),
            Outcome::Error,
            "the event still counts"
        );
    }

    #[test]
    fn error_level_events_count_only_when_asked() {
        let state = SpanState::new(false, false);
        state.error_level();
        assert_eq!(state.outcome(false, false), Outcome::Ok);
        assert_eq!(state.outcome(false, true), Outcome::Error);
    }

    #[test]
    fn a_span_known_to_return_that_did_not_was_cancelled() {
        let state = SpanState::new(false, false);
        assert_eq!(state.outcome(true, false), Outcome::Cancelled);
        assert_eq!(state.outcome(false, false), Outcome::Ok);
        state.returned();
        assert_eq!(state.outcome(true, false), Outcome::Ok);
        let failed = SpanState::new(false, false);
        failed.error_event();
        assert_eq!(failed.outcome(true, false), Outcome::Error);
    }
}
