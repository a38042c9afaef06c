//! The measurement of one request, moved from the future into the response body so
//! that it records exactly once, whenever and however the request ends.

use std::sync::Arc;

use observe_core::{OperationHandle, Outcome};
use prometheus_client::metrics::gauge::Gauge;

use super::families::{RequestLabels, RouteLabels};
use super::labels::{CLIENT_CLOSED_STATUS, Route, method_label};
use super::layer::Shared;

/// Records one request when finished or dropped.
#[derive(Debug)]
pub(crate) struct Guard {
    shared: Arc<Shared>,
    method: usize,
    route: Arc<Route>,
    operation: OperationHandle,
    in_flight: Gauge,
    start: quanta::Instant,
    status: Option<u16>,
    bytes: u64,
    done: bool,
}

impl Guard {
    pub(crate) fn start(shared: Arc<Shared>, method: usize, route: Arc<Route>) -> Self {
        let operation = route.operation(&shared.collector, method);
        let in_flight = shared
            .families
            .in_flight
            .get_or_create(&RouteLabels {
                method: method_label(method),
                route: Arc::clone(&route.label),
            })
            .clone();
        in_flight.inc();
        Self {
            shared,
            method,
            route,
            operation,
            in_flight,
            start: quanta::Instant::now(),
            status: None,
            bytes: 0,
            done: false,
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
        let method = method_label(self.method);
        let labels = RequestLabels {
            method,
            route: Arc::clone(&self.route.label),
            status: self.status.unwrap_or(CLIENT_CLOSED_STATUS),
        };
        let families = &self.shared.families;
        families.requests.get_or_create(&labels).inc();
        families
            .duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        families
            .size
            .get_or_create(&RouteLabels {
                method,
                route: labels.route,
            })
            .observe(self.bytes as f64);
        self.in_flight.dec();
        self.operation.record_outcome(elapsed, outcome);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Dropped before the body ended: the client went away, or the server gave up.
        self.record(Outcome::Cancelled);
    }
}
