//! [`OperationTimer`]: an RAII guard that times one operation, and [`Timed`], a future
//! that does the same for async work.
//!
//! A timer records exactly once: when ended with [`end`](OperationTimer::end),
//! [`end_ok`](OperationTimer::end_ok) or [`end_err`](OperationTimer::end_err), or, if none
//! of those was called, when dropped, as [`Outcome::Cancelled`]. In async Rust a dropped
//! future (a client that went away, a `select!` that took another branch, a timeout) is a
//! real outcome, so it is counted, not lost.
//!
//! # Example
//!
//! ```
//! use observe_core::{MetricsCollector, OperationTimer};
//!
//! fn create_expense(collector: &MetricsCollector) -> Result<u64, String> {
//!     let timer = OperationTimer::new(collector, "create_expense");
//!     let result = Ok(42); // the work
//!     timer.end(&result);
//!     result
//! }
//!
//! let collector = MetricsCollector::new();
//! create_expense(&collector).unwrap();
//! {
//!     let _abandoned = OperationTimer::new(&collector, "create_expense");
//! } // dropped without an end: cancelled
//! let op = collector.get("create_expense").unwrap();
//! assert_eq!((op.count, op.cancelled_count, op.error_count), (2, 1, 1));
//! ```

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::operation::{Operation, Outcome};
use super::trace_context::TraceContext;
use crate::collector::MetricsCollector;

/// Times one operation from its creation until it is ended or dropped.
///
/// A timer started on an [`OperationHandle`](crate::OperationHandle) borrows the
/// handle's operation (`OperationTimer<'_>`), as a `MutexGuard` borrows its mutex: starting
/// and ending it touches no reference count. A timer started by name
/// ([`new`](Self::new), [`MetricsCollector::start_timer`]) owns its operation and is
/// `OperationTimer<'static>`; [`into_owned`](Self::into_owned) turns a borrowing timer
/// into one that can move into a spawned task.
///
/// ```
/// use observe_core::{MetricsCollector, OperationTimer};
///
/// let collector = MetricsCollector::new();
/// let insert = collector.operation("db_insert");
///
/// let timer = insert.start_timer(); // borrows `insert`
/// timer.end_ok();
///
/// let owned: OperationTimer<'static> = insert.start_timer().into_owned();
/// std::thread::spawn(move || owned.end_err()).join().unwrap();
///
/// let op = collector.get("db_insert").unwrap();
/// assert_eq!((op.count, op.error_count), (2, 1));
/// ```
#[must_use = "a timer dropped at once records a cancelled operation of zero length"]
pub struct OperationTimer<'a> {
    op: Option<OperationRef<'a>>,
    /// The trace the timed work belongs to, if any.
    trace: Option<TraceContext>,
    /// The precise clock's raw reading (TSC ticks where `quanta` uses the TSC).
    start: u64,
}

/// The precise clock of every timer: `quanta`'s TSC clock where the TSC is invariant, the
/// OS's monotonic clock elsewhere. Timers keep raw readings and scale only the
/// difference, once.
pub(crate) fn precise() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// The operation a timer records into: borrowed from a handle, or owned.
enum OperationRef<'a> {
    Borrowed(&'a Arc<Operation>),
    Owned(Arc<Operation>),
}

impl Deref for OperationRef<'_> {
    type Target = Operation;

    #[inline]
    fn deref(&self) -> &Operation {
        match self {
            Self::Borrowed(op) => op,
            Self::Owned(op) => op,
        }
    }
}

impl OperationTimer<'static> {
    /// Starts timing the operation `name` of `collector`, creating it if needed.
    pub fn new(collector: &MetricsCollector, name: &str) -> Self {
        collector.start_timer(name)
    }

    pub(crate) fn owning(op: Arc<Operation>) -> Self {
        Self::start(OperationRef::Owned(op))
    }
}

impl<'a> OperationTimer<'a> {
    #[inline]
    pub(crate) fn borrowing(op: &'a Arc<Operation>) -> Self {
        Self::start(OperationRef::Borrowed(op))
    }

    #[inline]
    fn start(op: OperationRef<'a>) -> Self {
        Self {
            op: Some(op),
            trace: None,
            start: precise().raw(),
        }
    }

    /// This timer, owning its operation: it keeps its start time and no longer borrows
    /// the handle it was started on.
    pub fn into_owned(mut self) -> OperationTimer<'static> {
        let op = match self.op.take() {
            Some(OperationRef::Borrowed(op)) => Some(OperationRef::Owned(Arc::clone(op))),
            Some(OperationRef::Owned(op)) => Some(OperationRef::Owned(op)),
            None => None,
        };
        OperationTimer {
            op,
            trace: self.trace,
            start: self.start,
        }
    }

    /// Records the timed work as part of `trace`: when the trace is sampled, the record
    /// is kept as an exemplar of its bucket.
    ///
    /// ```
    /// use observe_core::{MetricsCollector, TraceContext};
    ///
    /// let collector = MetricsCollector::new();
    /// let trace = TraceContext::new(0x4bf9_2f35, 0x00f0_67aa, true).unwrap();
    /// collector.start_timer("checkout").in_trace(trace).end_ok();
    /// assert_eq!(collector.get("checkout").unwrap().exemplars.len(), 1);
    /// ```
    pub fn in_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Time elapsed since the timer started.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns())
    }

    /// Nanoseconds since the timer started (0 if the clock read lower, as it may across
    /// cores whose counters disagree).
    #[inline]
    fn elapsed_ns(&self) -> u64 {
        let clock = precise();
        clock.delta_as_nanos(self.start, clock.raw())
    }

    /// Ends the timer with the outcome of `result`: an `Err` is an error. Returns the
    /// recorded duration.
    pub fn end<T, E>(self, result: &Result<T, E>) -> Duration {
        self.end_with(Outcome::of(result))
    }

    /// Ends the timer as a success. Returns the recorded duration.
    pub fn end_ok(self) -> Duration {
        self.end_with(Outcome::Ok)
    }

    /// Ends the timer as a failure. Returns the recorded duration.
    pub fn end_err(self) -> Duration {
        self.end_with(Outcome::Error)
    }

    /// Ends the timer with an explicit outcome. Returns the recorded duration.
    pub fn end_with(mut self, outcome: Outcome) -> Duration {
        self.finish(outcome)
    }

    #[inline]
    fn finish(&mut self, outcome: Outcome) -> Duration {
        let elapsed = self.elapsed_ns();
        if let Some(op) = self.op.take() {
            match &self.trace {
                Some(trace) => op.record_traced(elapsed, outcome, trace),
                None => op.record_ns(elapsed, outcome),
            }
        }
        Duration::from_nanos(elapsed)
    }
}

impl Drop for OperationTimer<'_> {
    fn drop(&mut self) {
        if self.op.is_some() {
            self.finish(Outcome::Cancelled);
        }
    }
}

impl std::fmt::Debug for OperationTimer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationTimer")
            .field("operation", &self.op.as_ref().map(|op| op.name()))
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// Future for [`MetricsCollector::time_async`] and
    /// [`OperationHandle::time_async`](crate::OperationHandle::time_async).
    ///
    /// Records when the inner future completes (an `Err` is an error), or as cancelled
    /// when dropped before that. Timing starts when the `Timed` is created.
    #[must_use = "futures do nothing unless polled"]
    pub struct Timed<F> {
        #[pin]
        inner: F,
        timer: Option<OperationTimer<'static>>,
    }
}

impl<F> Timed<F> {
    /// Times `inner` with `timer`, which may have started before the future was made (so
    /// that the work of building it counts too).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use observe_core::{MetricsCollector, Timed};
    ///
    /// let collector = MetricsCollector::new();
    /// let timer = collector.start_timer("fetch");
    /// let request = async { Err::<(), _>("timed out") }; // built after the timer started
    /// assert!(Timed::new(request, timer).await.is_err());
    /// assert_eq!(collector.get("fetch").unwrap().error_count, 1);
    /// # }
    /// ```
    pub fn new(inner: F, timer: OperationTimer<'static>) -> Self {
        Self {
            inner,
            timer: Some(timer),
        }
    }
}

impl<F, T, E> Future for Timed<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(timer) = this.timer.take() {
            timer.end(&result);
        }
        Poll::Ready(result)
    }
}

impl<F> std::fmt::Debug for Timed<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timed")
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}
