//! The collector's exposition: its `prometheus-client` registry and the encoders that
//! write the operation families by hand around it.

use super::MetricsCollector;

impl MetricsCollector {
    /// The prefix of the families this collector exports.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// Registers a metric of yours on the collector's registry, encoded with everything
    /// else. See [`Registry::register`](prometheus_client::registry::Registry::register),
    /// which appends a period to `help`: leave yours without one.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn register_metric(
        &self,
        name: impl Into<String>,
        help: impl Into<String>,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.with_prometheus_registry(|registry| registry.register(name, help, metric));
    }

    /// Registers a collector of yours on the collector's registry, encoded at each scrape.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn register_prometheus_collector(
        &self,
        collector: Box<dyn prometheus_client::collector::Collector>,
    ) {
        self.with_prometheus_registry(|registry| registry.register_collector(collector));
    }

    /// Runs `f` on the registry, for anything the other methods do not cover (units,
    /// sub-registries). Holds the registry's lock meanwhile: keep `f` short.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn with_prometheus_registry<R>(
        &self,
        f: impl FnOnce(&mut prometheus_client::registry::Registry) -> R,
    ) -> R {
        let mut registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut registry)
    }

    /// Encodes every metric of the registry (operations, process figures, health and
    /// yours) in `format`: the operation families first, written straight into the
    /// format unless the registry is one you passed in (see the
    /// [`prometheus`](crate::prometheus) module), then the rest through
    /// `prometheus-client`.
    ///
    /// # Errors
    ///
    /// Only if a collector registered by the user fails to encode.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn encode_prometheus(
        &self,
        format: crate::prometheus::ExpositionFormat,
    ) -> Result<String, std::fmt::Error> {
        let encoded = self.encode_exposition(format)?;
        String::from_utf8(encoded.into_vec()).map_err(|_| std::fmt::Error)
    }

    /// [`encode_prometheus`](Self::encode_prometheus) into a buffer of the collector's:
    /// dropped, the [`Encoded`](crate::prometheus::Encoded) exposition gives it back for
    /// the next scrape, so that a scrape writes into memory already mapped instead of
    /// paying page faults on a fresh one (see `docs/performance.md`). What
    /// `observe-tower`'s `MonitoringService` serves.
    ///
    /// ```
    /// use observe_core::MetricsCollector;
    /// use observe_core::prometheus::ExpositionFormat;
    ///
    /// let collector = MetricsCollector::builder().process_metrics(false).build()?;
    /// collector.record_operation("checkout", std::time::Duration::from_millis(4), false);
    /// let text = collector.encode_exposition(ExpositionFormat::Prometheus)?;
    /// assert!(text.starts_with(b"# HELP observe_operations_total"));
    /// assert_eq!(&text[..], collector.encode_prometheus(ExpositionFormat::Prometheus)?.as_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only if a collector registered by the user fails to encode.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn encode_exposition(
        &self,
        format: crate::prometheus::ExpositionFormat,
    ) -> Result<crate::prometheus::Encoded, std::fmt::Error> {
        let mut encoded = self.inner.buffers.take();
        encoded.with_string(|text| self.write_text(format, text))?;
        Ok(encoded)
    }

    /// Writes the text exposition into `text` (empty).
    fn write_text(
        &self,
        format: crate::prometheus::ExpositionFormat,
        text: &mut String,
    ) -> Result<(), std::fmt::Error> {
        use crate::prometheus::{ExpositionFormat, HandWritten, Readings};

        let Some(writer) = &self.inner.writer else {
            let mut rest = String::new();
            self.with_prometheus_registry(|registry| {
                prometheus_client::encoding::text::encode(&mut rest, registry)
            })?;
            match format {
                ExpositionFormat::OpenMetrics => text.push_str(&rest),
                _ => text.push_str(&crate::prometheus::openmetrics_to_prometheus(&rest)),
            }
            return Ok(());
        };
        // The operation families by hand, then the rest of the registry (process, health
        // and the user's metrics) through `prometheus-client`.
        let readings = Readings::take(self);
        let mut rest = String::new();
        {
            let _hand_written = HandWritten::mark(self, true);
            self.with_prometheus_registry(|registry| {
                prometheus_client::encoding::text::encode(&mut rest, registry)
            })?;
        }
        text.reserve(rest.len() + readings.len() * 2048);
        writer.write(&readings, format, text);
        let families = self.families();
        crate::prometheus::write_families(&families, format, text);
        match format {
            ExpositionFormat::OpenMetrics => text.push_str(&rest),
            _ => text.push_str(&crate::prometheus::openmetrics_to_prometheus(&rest)),
        }
        Ok(())
    }

    /// Encodes every metric of the registry in the Prometheus protobuf format: one
    /// varint-length-delimited `io.prometheus.client.MetricFamily` after another, the
    /// body of a response of type
    /// [`protobuf::CONTENT_TYPE`](crate::prometheus::protobuf::CONTENT_TYPE). The
    /// operation families come first, with native histograms when the builder turned
    /// them on ([`native_histograms`](crate::MetricsCollectorBuilder::native_histograms)),
    /// then the rest through `prometheus-client`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use observe_core::MetricsCollector;
    /// use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::MetricFamily;
    /// use prost::Message;
    ///
    /// let collector = MetricsCollector::builder()
    ///     .native_histograms(3)
    ///     .process_metrics(false)
    ///     .build()?;
    /// collector.record_operation("checkout", Duration::from_millis(40), false);
    ///
    /// let body = collector.encode_protobuf()?;
    /// let mut rest = &body[..];
    /// let mut families = Vec::new();
    /// while !rest.is_empty() {
    ///     families.push(MetricFamily::decode_length_delimited(&mut rest)?);
    /// }
    /// let duration = families
    ///     .iter()
    ///     .find(|f| f.name == "observe_operation_duration_seconds")
    ///     .expect("the duration family");
    /// let histogram = duration.metric[0].histogram.as_ref().expect("a histogram");
    /// assert_eq!(histogram.schema, 3);
    /// assert_eq!(histogram.sample_count, 1);
    /// assert_eq!(histogram.positive_delta, [1]); // one native bucket holds 40 ms
    /// assert_eq!(histogram.bucket.len(), 16); // the classic buckets ride along
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only if a collector registered by the user fails to encode.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    pub fn encode_protobuf(
        &self,
    ) -> Result<
        crate::prometheus::Encoded,
        prometheus_client::encoding::prometheus_protobuf::EncodeError,
    > {
        use crate::prometheus::{HandWritten, Readings};
        use prometheus_client::encoding::prometheus_protobuf::encode_to_vec;

        let mut encoded = self.inner.buffers.take();
        let Some(writer) = &self.inner.protobuf else {
            let body = self.with_prometheus_registry(|registry| encode_to_vec(registry))?;
            encoded.vec_mut().extend_from_slice(&body);
            return Ok(encoded);
        };
        let native = self.inner.native.as_ref();
        let readings = Readings::take_with(self, native);
        let rest = {
            let _hand_written = HandWritten::mark(self, false);
            self.with_prometheus_registry(|registry| encode_to_vec(registry))?
        };
        let out = encoded.vec_mut();
        out.reserve(rest.len() + readings.len() * 1024);
        let zero_threshold = native.map_or(0.0, |n| n.config().threshold());
        writer.write(&readings, zero_threshold, out);
        out.extend_from_slice(&rest);
        Ok(encoded)
    }

    /// The native histogram settings of this collector, if native export is on: what
    /// the HTTP layer takes for its own duration histograms unless told otherwise.
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    #[must_use]
    pub fn native_histograms(&self) -> Option<crate::prometheus::NativeHistograms> {
        self.inner.native.as_ref().map(|n| *n.config())
    }

    /// Adds a histogram family for the text encoders to write; `Err` if one of that name
    /// is there already.
    pub(crate) fn add_family(
        &self,
        family: std::sync::Arc<crate::prometheus::FamilyInner>,
    ) -> Result<(), ()> {
        let mut families = self
            .inner
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if families.iter().any(|f| f.name() == family.name()) {
            return Err(());
        }
        families.push(family);
        Ok(())
    }

    /// The histogram families registered, for one encode.
    fn families(&self) -> Vec<std::sync::Arc<crate::prometheus::FamilyInner>> {
        self.inner
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The native mapper, for the operations collector.
    pub(crate) fn native_mapper(&self) -> Option<&crate::prometheus::NativeMapper> {
        self.inner.native.as_ref()
    }
}
