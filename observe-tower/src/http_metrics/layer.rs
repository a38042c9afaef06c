//! [`HttpMetricsLayer`] and its builder.

use std::collections::HashSet;
use std::sync::Arc;

use http::StatusCode;
use observe_core::prometheus::{NativeHistograms, validate_buckets};
use observe_core::{BuildError, MetricsCollector};
use tower_layer::Layer;

use super::families::{DEFAULT_SIZE_BUCKETS, HttpFamilies};
use super::labels::{ResolveRoute, Routes};
use super::service::HttpMetrics;

/// Decides which responses count as errors. The default counts `5xx`.
pub(crate) type Classifier = dyn Fn(StatusCode) -> bool + Send + Sync;

/// What every service and future of one layer shares.
pub(crate) struct Shared {
    pub(crate) collector: MetricsCollector,
    pub(crate) families: HttpFamilies,
    pub(crate) routes: Routes,
    pub(crate) resolver: Option<Box<dyn ResolveRoute>>,
    pub(crate) excluded: HashSet<String>,
    pub(crate) excluded_prefixes: Vec<String>,
    pub(crate) is_error: Box<Classifier>,
    /// Whether a request's `traceparent` header is read.
    pub(crate) traceparent: bool,
}

impl Shared {
    pub(crate) fn is_excluded(&self, path: &str) -> bool {
        self.excluded.contains(path)
            || self
                .excluded_prefixes
                .iter()
                .any(|p| path.starts_with(p.as_str()))
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("excluded", &self.excluded)
            .field("excluded_prefixes", &self.excluded_prefixes)
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

/// A [`Layer`] that measures HTTP requests: count, duration until the response body
/// ends, in-flight requests and response sizes, labelled by method, route template and
/// status; each request is also recorded as the operation `"{METHOD} {route}"` of the
/// collector.
///
/// See the [module docs](crate::http_metrics) for the families and labels.
///
/// ```
/// use observe_core::MetricsCollector;
/// use observe_tower::HttpMetricsLayer;
///
/// let collector = MetricsCollector::new();
/// let layer = HttpMetricsLayer::builder(&collector)
///     .exclude_path("/metrics")
///     .exclude_prefix("/monitoring/")
///     .classify_errors(|status| status.is_server_error() || status.as_u16() == 429)
///     .build();
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct HttpMetricsLayer {
    shared: Arc<Shared>,
}

impl HttpMetricsLayer {
    /// A layer recording into `collector` with the default configuration.
    pub fn new(collector: &MetricsCollector) -> Self {
        Self::builder(collector).build()
    }

    /// A builder to configure the layer.
    pub fn builder(collector: &MetricsCollector) -> HttpMetricsLayerBuilder {
        HttpMetricsLayerBuilder {
            collector: collector.clone(),
            resolver: None,
            excluded: HashSet::new(),
            excluded_prefixes: Vec::new(),
            is_error: Box::new(|status: StatusCode| status.is_server_error()),
            duration_buckets: observe_core::prometheus::DEFAULT_BUCKETS.to_vec(),
            size_buckets: DEFAULT_SIZE_BUCKETS.to_vec(),
            max_routes: 1_000,
            traceparent: true,
            native: collector.native_histograms(),
        }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::new(inner, Arc::clone(&self.shared))
    }
}

/// Builder for [`HttpMetricsLayer`].
#[must_use]
pub struct HttpMetricsLayerBuilder {
    collector: MetricsCollector,
    resolver: Option<Box<dyn ResolveRoute>>,
    excluded: HashSet<String>,
    excluded_prefixes: Vec<String>,
    is_error: Box<Classifier>,
    duration_buckets: Vec<f64>,
    size_buckets: Vec<f64>,
    max_routes: usize,
    traceparent: bool,
    native: Option<NativeHistograms>,
}

impl HttpMetricsLayerBuilder {
    /// Whether to read each request's W3C `traceparent` header (default on) and record
    /// the request's operation with it: a sampled trace becomes an exemplar of its
    /// duration bucket. A header that does not parse is ignored; the request is served
    /// and counted as usual.
    pub fn read_traceparent(mut self, yes: bool) -> Self {
        self.traceparent = yes;
        self
    }

    /// Finds the route template of requests that carry no axum `MatchedPath`, for plain
    /// hyper or tonic services. Requests it returns `None` for are labelled `unmatched`.
    pub fn route_resolver(mut self, resolver: impl ResolveRoute) -> Self {
        self.resolver = Some(Box::new(resolver));
        self
    }

    /// Leaves requests to exactly this path unmeasured (a scrape endpoint, a probe).
    pub fn exclude_path(mut self, path: impl Into<String>) -> Self {
        self.excluded.insert(path.into());
        self
    }

    /// Leaves requests whose path starts with `prefix` unmeasured.
    pub fn exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.excluded_prefixes.push(prefix.into());
        self
    }

    /// Decides which statuses count as errors (default: `5xx`). An error of the inner
    /// service always counts as one.
    pub fn classify_errors(
        mut self,
        is_error: impl Fn(StatusCode) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.is_error = Box::new(is_error);
        self
    }

    /// The `le` boundaries of the duration histogram, in seconds (default: the
    /// collector's defaults, 0.5 ms to 30 s). The families are registered once per
    /// collector: the first layer built on a collector sets the buckets of all.
    ///
    /// ```
    /// # let collector = observe_core::MetricsCollector::new();
    /// use observe_tower::HttpMetricsLayer;
    ///
    /// let layer = HttpMetricsLayer::builder(&collector)
    ///     .duration_buckets([0.005, 0.05, 0.5, 5.0])?
    ///     .build();
    /// assert!(HttpMetricsLayer::builder(&collector).duration_buckets([1.0, f64::NAN]).is_err());
    /// # let _ = layer;
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::Buckets`] when the boundaries are not finite, positive and strictly
    /// increasing, or more than 64 (see [`validate_buckets`]).
    pub fn duration_buckets(
        mut self,
        seconds: impl IntoIterator<Item = f64>,
    ) -> Result<Self, BuildError> {
        self.duration_buckets = seconds.into_iter().collect();
        validate_buckets(&self.duration_buckets)?;
        Ok(self)
    }

    /// The `le` boundaries of the response size histogram, in bytes (default 100 B to
    /// 10 MB by powers of ten).
    ///
    /// # Errors
    ///
    /// [`BuildError::Buckets`], as for [`duration_buckets`](Self::duration_buckets).
    pub fn size_buckets(
        mut self,
        bytes: impl IntoIterator<Item = f64>,
    ) -> Result<Self, BuildError> {
        self.size_buckets = bytes.into_iter().collect();
        validate_buckets(&self.size_buckets)?;
        Ok(self)
    }

    /// Exports the request duration histogram as a Prometheus native histogram at
    /// `schema` (−4 to 6), beside its classic buckets, in the protobuf exposition only.
    /// By default the layer follows its collector's
    /// [`native_histograms`](observe_core::MetricsCollectorBuilder::native_histograms)
    /// (schema, zero threshold and bucket cap); like the buckets, the first layer built
    /// on a collector decides for all.
    ///
    /// ```
    /// # let collector = observe_core::MetricsCollector::new();
    /// use observe_tower::HttpMetricsLayer;
    ///
    /// let layer = HttpMetricsLayer::builder(&collector).native_histograms(3)?.build();
    /// assert!(HttpMetricsLayer::builder(&collector).native_histograms(9).is_err());
    /// # let _ = layer;
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::NativeSchema`] for a schema out of range.
    pub fn native_histograms(mut self, schema: i8) -> Result<Self, BuildError> {
        let base = self.native.unwrap_or_default();
        let native = NativeHistograms::new(schema)?
            .zero_threshold(base.threshold())?
            .max_buckets(base.bucket_cap());
        self.native = Some(native);
        Ok(self)
    }

    /// Keeps the request duration histogram classic even when the collector exports
    /// native histograms.
    pub fn classic_histograms_only(mut self) -> Self {
        self.native = None;
        self
    }

    /// The most distinct route labels kept (default 1,000); further templates are
    /// labelled `__overflow__`, so a resolver that returns raw paths cannot explode the
    /// series count.
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max;
        self
    }

    /// Builds the layer, registering the HTTP families on the collector's registry the
    /// first time a layer is built on it.
    pub fn build(self) -> HttpMetricsLayer {
        let families = HttpFamilies::of(
            &self.collector,
            &self.duration_buckets,
            &self.size_buckets,
            self.native,
        );
        HttpMetricsLayer {
            shared: Arc::new(Shared {
                collector: self.collector,
                families,
                routes: Routes::new(self.max_routes),
                resolver: self.resolver,
                excluded: self.excluded,
                excluded_prefixes: self.excluded_prefixes,
                is_error: self.is_error,
                traceparent: self.traceparent,
            }),
        }
    }
}

impl std::fmt::Debug for HttpMetricsLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetricsLayerBuilder")
            .field("excluded", &self.excluded)
            .field("excluded_prefixes", &self.excluded_prefixes)
            .field("duration_buckets", &self.duration_buckets)
            .field("size_buckets", &self.size_buckets)
            .field("max_routes", &self.max_routes)
            .field("native", &self.native)
            .finish_non_exhaustive()
    }
}
