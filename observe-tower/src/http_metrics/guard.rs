//! The measurement of one request, moved from the future into the response body so
//! that it records exactly once, whenever and however the request ends.

use std::sync::Arc;

use observe_core::{Outcome, TraceContext};

use super::labels::{CLIENT_CLOSED_STATUS, Route};
use super::layer::Shared;
use super::series::MethodSeries;

/// Records one request when finished or dropped.
#[derive(Debug)]
pub(crate) struct Guard {
    shared: Arc<Shared>,
    method: usize,
    route: Arc<Route>,
    start: quanta::Instant,
    status: Option<u16>,
    bytes: u64,
    done: bool,
    /// The request's trace, from its `traceparent` header.
    trace: Option<TraceContext>,
}

impl Guard {
    pub(crate) fn start(
        shared: Arc<Shared>,
        method: usize,
        route: Arc<Route>,
        trace: Option<TraceContext>,
    ) -> Self {
        route
            .series(&shared.collector, &shared.families, method)
            .in_flight
            .inc();
        Self {
            shared,
            method,
            route,
            start: quanta::Instant::now(),
            status: None,
            bytes: 0,
            done: false,
            trace,
        }
    }

    /// The response head arrived with this status.
    pub(crate) fn set_status(&mut self, status: http::StatusCode) {
        self.status = Some(status.as_u16());
    }

    /// Body bytes went out.
    pub(crate) fn add_bytes(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n as u64);
    }

    /// The response ended normally.
    pub(crate) fn finish(&mut self) {
        let outcome = match self.status {
            Some(status) => match http::StatusCode::from_u16(status) {
                Ok(code) if (self.shared.is_error)(code) => Outcome::Error,
                Ok(_) => Outcome::Ok,
                Err(_) => Outcome::Error,
            },
            None => Outcome::Error,
        };
        self.record(outcome);
    }

    /// The inner service failed: no response, counted as a 500 and an error.
    pub(crate) fn fail(&mut self) {
        self.status = Some(500);
        self.record(Outcome::Error);
    }

    /// The response body failed midway: an error, with the status already sent.
    pub(crate) fn body_failed(&mut self) {
        self.record(Outcome::Error);
    }

    fn record(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let elapsed = self.start.elapsed();
        let series = self.series();
        let status = self.status.unwrap_or(CLIENT_CLOSED_STATUS);
        let trace = self.trace.as_ref();
        series.record(&self.shared.families, status, elapsed.as_secs_f64(), trace);
        series.size.observe(self.bytes as f64);
        series.in_flight.dec();
        match trace {
            Some(trace) => series.operation.record_traced(elapsed, outcome, trace),
            None => series.operation.record_outcome(elapsed, outcome),
        }
    }

    fn series(&self) -> &MethodSeries {
        let shared = &self.shared;
        self.route
            .series(&shared.collector, &shared.families, self.method)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Dropped before the body ended: the client went away, or the server gave up.
        self.record(Outcome::Cancelled);
    }
}
