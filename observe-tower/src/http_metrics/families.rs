//! The Prometheus families of HTTP requests, registered once per collector.

use std::sync::Arc;

use observe_core::MetricsCollector;
use observe_core::prometheus::{HistogramFamily, NativeHistograms};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Unit;

/// The default `le` boundaries of the response size histogram, in bytes.
pub(crate) const DEFAULT_SIZE_BUCKETS: &[f64] = &[
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
];

/// Labels of a finished request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) method: &'static str,
    pub(crate) route: Arc<str>,
    pub(crate) status: u16,
}

/// Labels of a route, whatever the outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub(crate) method: &'static str,
    pub(crate) route: Arc<str>,
}

/// Builds histograms with fixed boundaries.
#[derive(Clone, Debug)]
pub(crate) struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// The four HTTP families. Clones share the same series.
///
/// The duration histogram is observe-core's [`HistogramFamily`], whose buckets keep the
/// requests' trace exemplars (labels `method`, `route`, `status`); the others are
/// `prometheus-client`'s.
#[derive(Clone, Debug)]
pub(crate) struct HttpFamilies {
    pub(crate) requests: Family<RequestLabels, Counter>,
    /// `None` only if its name was taken on the collector (by a family of the user's):
    /// the requests are still counted, without durations.
    pub(crate) duration: Option<HistogramFamily<3>>,
    pub(crate) in_flight: Family<RouteLabels, Gauge>,
    pub(crate) size: Family<RouteLabels, Histogram, Buckets>,
}

impl HttpFamilies {
    /// The families of `collector`, registered on its registry the first time any layer
    /// is built on it; later layers share them (and the first layer's buckets).
    /// With `native`, the duration histogram also carries native buckets.
    pub(crate) fn of(
        collector: &MetricsCollector,
        duration: &[f64],
        size: &[f64],
        native: Option<NativeHistograms>,
    ) -> Self {
        collector.extension(|| {
            let ns = collector.namespace().to_owned();
            // Native buckets show only in the protobuf exposition; the text stays classic.
            let duration = HistogramFamily::builder(
                format!("{ns}_http_request_duration"),
                "HTTP request duration until the response body ended",
            )
            .unit(Unit::Seconds)
            .labels(["method", "route", "status"])
            .buckets(duration)
            .native(native)
            // The layer's builder checked the buckets and the collector its namespace:
            // only a family of the user's registered under this very name fails here.
            .register(collector);
            let families = Self {
                requests: Family::default(),
                duration: duration.ok(),
                in_flight: Family::default(),
                size: Family::new_with_constructor(Buckets(size.into())),
            };
            collector.with_prometheus_registry(|registry| {
                registry.register(
                    format!("{ns}_http_requests"),
                    "HTTP requests served, by method, route template and status",
                    families.requests.clone(),
                );
                registry.register(
                    format!("{ns}_http_requests_in_flight"),
                    "HTTP requests being served",
                    families.in_flight.clone(),
                );
                registry.register_with_unit(
                    format!("{ns}_http_response_size"),
                    "HTTP response body bytes sent",
                    Unit::Bytes,
                    families.size.clone(),
                );
            });
            families
        })
    }
}
