//! The Prometheus families of HTTP requests, registered once per collector.

use std::sync::Arc;

use observe_core::MetricsCollector;
use observe_core::prometheus::NativeHistograms;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
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

/// Builds histograms with fixed boundaries, and native buckets when configured.
#[derive(Clone, Debug)]
pub(crate) struct Buckets(Arc<[f64]>, Option<NativeHistogramConfig>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        match self.1 {
            // Native buckets show only in the protobuf exposition; the text stays classic.
            Some(native) => Histogram::new_classic_and_native(self.0.iter().copied(), native),
            None => Histogram::new(self.0.iter().copied()),
        }
    }
}

/// `prometheus-client`'s configuration of the same native histograms: its schema only
/// goes down when the cap is passed, as the collector's does.
fn native_config(native: NativeHistograms) -> NativeHistogramConfig {
    NativeHistogramConfig::with_schema(native.schema())
        .zero_threshold(native.threshold())
        .max_buckets(native.bucket_cap())
}

/// The four HTTP families. Clones share the same series.
#[derive(Clone, Debug)]
pub(crate) struct HttpFamilies {
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) duration: Family<RequestLabels, Histogram, Buckets>,
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
            let families = Self {
                requests: Family::default(),
                duration: Family::new_with_constructor(Buckets(
                    duration.into(),
                    native.map(native_config),
                )),
                in_flight: Family::default(),
                size: Family::new_with_constructor(Buckets(size.into(), None)),
            };
            let ns = collector.namespace().to_owned();
            collector.with_prometheus_registry(|registry| {
                registry.register(
                    format!("{ns}_http_requests"),
                    "HTTP requests served, by method, route template and status",
                    families.requests.clone(),
                );
                registry.register_with_unit(
                    format!("{ns}_http_request_duration"),
                    "HTTP request duration until the response body ended",
                    Unit::Seconds,
                    families.duration.clone(),
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
