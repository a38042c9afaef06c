//! The series of one route and method, taken from the families once and then kept.
//!
//! `Family::get_or_create` hashes the whole label set and takes a read lock, and a
//! request needs four series. The handles it returns share their series, so a route
//! keeps them per method: a request finds its series with a few compares.

use std::sync::{Arc, OnceLock};

use observe_core::prometheus::HistogramSeries;
use observe_core::{MetricsCollector, OperationHandle, TraceContext};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::families::{HttpFamilies, RequestLabels, RouteLabels};
use super::labels::method_label;

/// How many statuses of one route and method keep their series; a route that answers
/// with more finds the rest through the families.
const STATUS_SLOTS: usize = 4;

/// The series of one route and method.
#[derive(Debug)]
pub(crate) struct MethodSeries {
    method: &'static str,
    route: Arc<str>,
    /// The operation `"{METHOD} {route}"`.
    pub(crate) operation: OperationHandle,
    pub(crate) in_flight: Gauge,
    pub(crate) size: Histogram,
    statuses: [OnceLock<StatusSeries>; STATUS_SLOTS],
}

/// The series of one status of a route and method.
#[derive(Debug)]
struct StatusSeries {
    status: u16,
    requests: Counter,
    duration: Option<HistogramSeries>,
}

impl MethodSeries {
    pub(crate) fn new(
        collector: &MetricsCollector,
        families: &HttpFamilies,
        method: usize,
        route: &Arc<str>,
    ) -> Self {
        let method = method_label(method);
        let labels = RouteLabels {
            method,
            route: Arc::clone(route),
        };
        Self {
            method,
            route: Arc::clone(route),
            operation: collector.operation(&format!("{method} {route}")),
            in_flight: families.in_flight.get_or_create(&labels).clone(),
            size: families.size.get_or_create(&labels).clone(),
            statuses: Default::default(),
        }
    }

    /// Counts one finished request with `status` that took `seconds`, and keeps its
    /// sampled `trace` as an exemplar.
    pub(crate) fn record(
        &self,
        families: &HttpFamilies,
        status: u16,
        seconds: f64,
        trace: Option<&TraceContext>,
    ) {
        let labels = || RequestLabels {
            method: self.method,
            route: Arc::clone(&self.route),
            status,
        };
        let duration = || {
            let status = http::StatusCode::from_u16(status);
            let status = status.as_ref().map_or("0", http::StatusCode::as_str);
            let family = families.duration.as_ref()?;
            Some(family.series([self.method, &self.route, status]))
        };
        let observe = |series: &HistogramSeries| match trace {
            Some(trace) => series.observe_traced(seconds, trace),
            None => series.observe(seconds),
        };
        for slot in &self.statuses {
            // Of records racing for an empty slot one fills it; the others go on.
            let series = slot.get_or_init(|| StatusSeries {
                status,
                requests: families.requests.get_or_create(&labels()).clone(),
                duration: duration(),
            });
            if series.status == status {
                series.requests.inc();
                if let Some(duration) = &series.duration {
                    observe(duration);
                }
                return;
            }
        }
        families.requests.get_or_create(&labels()).inc();
        if let Some(duration) = duration() {
            observe(&duration);
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn every_status_counts_once_in_its_own_series_past_the_slots() {
        let collector = MetricsCollector::new();
        let families = HttpFamilies::of(&collector, &[0.1], &[100.0], None);
        let series = MethodSeries::new(&collector, &families, 0, &Arc::from("/r"));
        let statuses = [200, 404, 200, 500, 201, 503, 418, 200, 418];
        for status in statuses {
            series.record(&families, status, 0.05, None);
        }
        let mut registry = Registry::default();
        registry.register("requests", "", families.requests.clone());
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        for status in [200, 404, 500, 201, 503, 418] {
            let expected = statuses.iter().filter(|&&s| s == status).count();
            let line = format!(
                "requests_total{{method=\"GET\",route=\"/r\",status=\"{status}\"}} {expected}"
            );
            assert!(text.contains(&line), "{line} in\n{text}");
        }
    }
}
