//! [`MetricsCollectorBuilder`]: every setting of a collector, checked by `build`.

use std::time::Duration;

use super::MetricsCollector;
#[cfg(feature = "prometheus")]
use super::WeakCollector;
use crate::engine::Clock;
use crate::engine::{DEFAULT_PRECISION, MAX_PRECISION, MIN_PRECISION};
use crate::error::BuildError;

/// Builder for [`MetricsCollector`].
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
///
/// let collector = MetricsCollector::builder()
///     .max_operations(1_000)
///     .max_name_length(64)
///     .recent_window(Duration::from_secs(300), 10)
///     .histogram_precision(8)
///     .build()?;
/// # Ok::<(), observe_core::BuildError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct MetricsCollectorBuilder {
    pub(super) max_operations: usize,
    pub(super) max_striped_operations: usize,
    pub(super) max_name_len: usize,
    pub(super) window_length: Duration,
    pub(super) window_slots: usize,
    pub(super) precision: u8,
    pub(super) cancelled_is_error: bool,
    pub(super) clock: Clock,
    #[cfg(feature = "prometheus")]
    pub(super) prometheus: PrometheusOptions,
}

#[cfg(feature = "prometheus")]
#[derive(Debug)]
pub(super) struct PrometheusOptions {
    pub(super) namespace: String,
    pub(super) buckets: Vec<f64>,
    pub(super) registry: Option<prometheus_client::registry::Registry>,
    pub(super) process: bool,
    /// Validated at build: schema, zero threshold, cap.
    pub(super) native_schema: Option<i8>,
    pub(super) native_zero_threshold: Option<f64>,
    pub(super) native_max_buckets: Option<usize>,
    /// Set by `build` from the three above.
    pub(super) native: Option<crate::prometheus::NativeHistograms>,
}

#[cfg(feature = "prometheus")]
impl PrometheusOptions {
    /// The registry to own, with this collector's families registered on it.
    pub(super) fn take_registry(
        &mut self,
        collector: WeakCollector,
    ) -> prometheus_client::registry::Registry {
        let mut registry = self.registry.take().unwrap_or_default();
        registry.register_collector(Box::new(crate::prometheus::OperationsCollector::new(
            collector.clone(),
            &self.namespace,
        )));
        if self.process {
            registry.register_collector(Box::new(crate::prometheus::ProcessCollector));
        }
        // The health gauges of the registries built on this collector (none until one is).
        #[cfg(feature = "health")]
        registry.register_collector(Box::new(crate::prometheus::HealthCollector::new(
            collector,
            &self.namespace,
        )));
        registry
    }
}

impl Default for MetricsCollectorBuilder {
    fn default() -> Self {
        Self {
            max_operations: 10_000,
            max_striped_operations: 64,
            max_name_len: 128,
            window_length: Duration::from_secs(60),
            window_slots: 6,
            precision: DEFAULT_PRECISION,
            cancelled_is_error: true,
            clock: Clock::system(),
            #[cfg(feature = "prometheus")]
            prometheus: PrometheusOptions {
                namespace: "observe".to_owned(),
                buckets: crate::prometheus::DEFAULT_BUCKETS.to_vec(),
                registry: None,
                process: true,
                native_schema: None,
                native_zero_threshold: None,
                native_max_buckets: None,
                native: None,
            },
        }
    }
}

impl MetricsCollectorBuilder {
    /// The cap on distinct operation names (default 10,000); past it, new names fold
    /// into [`OVERFLOW_OPERATION`](crate::OVERFLOW_OPERATION).
    pub fn max_operations(mut self, cap: usize) -> Self {
        self.max_operations = cap;
        self
    }

    /// How many operations may spread over one set of counters per core (at most 16) when
    /// several cores record them at the same moment (default 64; 0 turns it off).
    ///
    /// Two cores adding to the same counters take turns owning their cache line, which
    /// makes each record several times slower. An operation seen to collide spreads,
    /// once, over a stripe per core, each holding a histogram of its own (8.8 KiB at the
    /// default precision). This cap bounds what that adds: at most
    /// `max_striped_operations × (cores − 1)` stripes per collector. Past it, contended
    /// operations keep one stripe: every count stays exact, only slower.
    pub fn max_striped_operations(mut self, cap: usize) -> Self {
        self.max_striped_operations = cap;
        self
    }

    /// The longest operation name kept, in bytes (default 128); longer names are cut at
    /// a character boundary.
    pub fn max_name_length(mut self, bytes: usize) -> Self {
        self.max_name_len = bytes;
        self
    }

    /// The recent window's length and how many slots it turns in (default 60 s in 6
    /// slots): recent figures cover between `length - length / slots` and `length`.
    pub fn recent_window(mut self, length: Duration, slots: usize) -> Self {
        self.window_length = length;
        self.window_slots = slots;
        self
    }

    /// Histogram precision in significant bits, 4 to 10 (default 7): quantiles are within
    /// `2^-bits` of the true value (0.78 % at 7) and an entry's histogram holds
    /// `2^(bits-1) * (40 - bits)` four-byte buckets (8.4 KiB at 7).
    pub fn histogram_precision(mut self, bits: u8) -> Self {
        self.precision = bits;
        self
    }

    /// Whether a cancelled operation (a timer or future dropped before its end) also
    /// counts as an error (default `true`).
    pub fn count_cancelled_as_error(mut self, yes: bool) -> Self {
        self.cancelled_is_error = yes;
        self
    }

    /// The clock of recent windows, timestamps and uptime (default [`Clock::system`]);
    /// tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// The prefix of every family this collector exports (default `observe`): ASCII
    /// letters, digits and underscores, not starting with a digit or `__`.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.prometheus.namespace = namespace.into();
        self
    }

    /// The `le` boundaries, in seconds, of the exported duration histograms (default
    /// [`DEFAULT_BUCKETS`](crate::prometheus::DEFAULT_BUCKETS), 0.5 ms to 30 s): finite,
    /// positive, strictly increasing, at most 64. Each bucket is counted exactly.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus_buckets(mut self, seconds: impl IntoIterator<Item = f64>) -> Self {
        self.prometheus.buckets = seconds.into_iter().collect();
        self
    }

    /// A registry of your own (with your metrics on it, or a prefix or labels) for the
    /// collector to register its families on and own. By default it creates one.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn prometheus_registry(mut self, registry: prometheus_client::registry::Registry) -> Self {
        self.prometheus.registry = Some(registry);
        self
    }

    /// Whether to export the standard `process_*` families (default `true`). Turn it
    /// off when another part of the process already exports them.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn process_metrics(mut self, yes: bool) -> Self {
        self.prometheus.process = yes;
        self
    }

    /// Exports the operation duration histograms as Prometheus native histograms at
    /// `schema` (−4 to 6; 3 is a good default: 8 buckets per power of two, quantiles
    /// within about 2 %), in the protobuf exposition only, beside the classic buckets.
    /// Off by default: see the migration notes in `docs/metrics.md` before turning it on,
    /// since a Prometheus with native histograms enabled stops ingesting the classic
    /// series of a histogram that carries native buckets.
    ///
    /// The buckets come from the fine histogram at scrape time; recording does not
    /// change. The text formats do not change either.
    ///
    /// ```
    /// use observe_core::MetricsCollector;
    ///
    /// let collector = MetricsCollector::builder().native_histograms(5).build()?;
    /// assert_eq!(collector.native_histograms().map(|n| n.schema()), Some(5));
    /// let refused = MetricsCollector::builder().native_histograms(8).build();
    /// assert!(refused.is_err());
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn native_histograms(mut self, schema: i8) -> Self {
        self.prometheus.native_schema = Some(schema);
        self
    }

    /// The zero threshold of native histograms, in seconds (default `2^-128`): durations
    /// up to it count in the zero bucket. Only with
    /// [`native_histograms`](Self::native_histograms).
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn native_zero_threshold(mut self, seconds: f64) -> Self {
        self.prometheus.native_zero_threshold = Some(seconds);
        self
    }

    /// The most populated native buckets of one series (default 320): past it, that
    /// series' schema goes down until they fit, and never goes up again (Prometheus reads
    /// a rising schema as a counter reset). Only with
    /// [`native_histograms`](Self::native_histograms).
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn native_max_buckets(mut self, buckets: usize) -> Self {
        self.prometheus.native_max_buckets = Some(buckets);
        self
    }

    /// Checks the configuration and builds the collector.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the setting that is out of range.
    pub fn build(self) -> Result<MetricsCollector, BuildError> {
        if self.max_operations == 0 {
            return Err(BuildError::ZeroOperationCap);
        }
        if self.max_name_len == 0 {
            return Err(BuildError::ZeroNameLength);
        }
        if !(MIN_PRECISION..=MAX_PRECISION).contains(&self.precision) {
            return Err(BuildError::Precision {
                got: self.precision,
                min: MIN_PRECISION,
                max: MAX_PRECISION,
            });
        }
        let slot_ok = self
            .window_length
            .checked_div(u32::try_from(self.window_slots).unwrap_or(u32::MAX))
            .is_some_and(|slot| slot >= Duration::from_millis(1));
        if !(1..=3600).contains(&self.window_slots) || !slot_ok {
            return Err(BuildError::Window {
                length: self.window_length,
                slots: self.window_slots,
            });
        }
        #[cfg(feature = "prometheus")]
        {
            crate::prometheus::validate_namespace(&self.prometheus.namespace).map_err(
                |reason| BuildError::Namespace {
                    namespace: self.prometheus.namespace.clone(),
                    reason,
                },
            )?;
            crate::prometheus::validate_seconds(&self.prometheus.buckets)?;
        }
        #[cfg(feature = "prometheus")]
        let mut this = self;
        #[cfg(not(feature = "prometheus"))]
        let this = self;
        #[cfg(feature = "prometheus")]
        if let Some(schema) = this.prometheus.native_schema {
            let mut native = crate::prometheus::NativeHistograms::new(schema)?;
            if let Some(seconds) = this.prometheus.native_zero_threshold {
                native = native.zero_threshold(seconds)?;
            }
            if let Some(cap) = this.prometheus.native_max_buckets {
                native = native.max_buckets(cap);
            }
            this.prometheus.native = Some(native);
        }
        Ok(MetricsCollector::from_builder(this))
    }
}
