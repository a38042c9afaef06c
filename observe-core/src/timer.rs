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
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::collector::MetricsCollector;
use crate::operation::{Operation, Outcome};

/// Times one operation from its creation until it is ended or dropped.
#[must_use = "a timer dropped at once records a cancelled operation of zero length"]
pub struct OperationTimer {
    op: Option<Arc<Operation>>,
    start: quanta::Instant,
}

impl OperationTimer {
    /// Starts timing the operation `name` of `collector`, creating it if needed.
    pub fn new(collector: &MetricsCollector, name: &str) -> Self {
        collector.start_timer(name)
    }

    pub(crate) fn from_operation(op: Arc<Operation>) -> Self {
        Self {
            op: Some(op),
            start: quanta::Instant::now(),
        }
    }

    /// Time elapsed since the timer started.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        quanta::Instant::now().saturating_duration_since(self.start)
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

    fn finish(&mut self, outcome: Outcome) -> Duration {
        let elapsed = self.elapsed();
        if let Some(op) = self.op.take() {
            op.record(elapsed, outcome);
        }
        elapsed
    }
}

impl Drop for OperationTimer {
    fn drop(&mut self) {
        if self.op.is_some() {
            self.finish(Outcome::Cancelled);
        }
    }
}

impl std::fmt::Debug for OperationTimer {
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
        timer: Option<OperationTimer>,
    }
}

impl<F> Timed<F> {
    pub(crate) fn new(inner: F, timer: OperationTimer) -> Self {
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
