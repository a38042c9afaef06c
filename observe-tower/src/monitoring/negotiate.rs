//! Content negotiation of the exposition: Prometheus text, OpenMetrics text or the
//! Prometheus protobuf format, by the `Accept` header and its q-values.

use bytes::Bytes;
use http::{Response, StatusCode};
use observe_core::MetricsCollector;
use observe_core::prometheus::{Encoded, ExpositionFormat};

use super::response::{self, MonitoringBody};

/// An exposition format a scraper may ask for.
///
/// ```
/// use observe_tower::monitoring::Exposition;
///
/// // What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
/// let native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
///     encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/// # #[cfg(feature = "protobuf")]
/// assert_eq!(Exposition::negotiate(Some(native)), Exposition::Protobuf);
/// // And without it.
/// let classic = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
///     version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// assert_eq!(Exposition::negotiate(Some(classic)), Exposition::OpenMetrics);
/// assert_eq!(Exposition::negotiate(Some("*/*")), Exposition::Prometheus);
/// assert_eq!(Exposition::negotiate(None), Exposition::Prometheus);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exposition {
    /// Prometheus text 0.0.4: the answer to `*/*`, to no `Accept`, and to nothing
    /// acceptable.
    #[default]
    Prometheus,
    /// OpenMetrics text 1.0.0.
    OpenMetrics,
    /// Length-delimited `io.prometheus.client.MetricFamily` messages, with native
    /// histograms where turned on (only with the `protobuf` feature).
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    Protobuf,
}

/// A failure to encode the exposition: only a collector registered by the user can
/// fail.
#[derive(Debug)]
pub struct EncodeError(());

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a metric failed to encode")
    }
}

impl std::error::Error for EncodeError {}

impl Exposition {
    /// The format an `Accept` header asks for: the acceptable one (quality above zero)
    /// with the highest quality; on a tie protobuf, then OpenMetrics, then Prometheus
    /// text. `text/plain`, `text/*` and `*/*` stand for Prometheus text (a browser or
    /// `curl` gets text); the protobuf media type counts only with
    /// `proto=io.prometheus.client.MetricFamily` and `encoding=delimited`, when given.
    #[must_use]
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Prometheus;
        };
        // Quality of each format, in the order of preference on a tie.
        let mut best = [0.0f32; 3];
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut quality = 1.0f32;
            let mut proto_ok = true;
            for param in parts {
                let (name, value) = param.split_once('=').unwrap_or((param, ""));
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "q" => {
                        quality = value
                            .parse::<f32>()
                            .ok()
                            .filter(|q| q.is_finite())
                            .map_or(0.0, |q| q.clamp(0.0, 1.0));
                    }
                    "proto" => proto_ok &= value == "io.prometheus.client.MetricFamily",
                    "encoding" => proto_ok &= value == "delimited",
                    _ => {}
                }
            }
            let slot = match media.as_str() {
                "application/vnd.google.protobuf" if proto_ok => 0,
                "application/openmetrics-text" => 1,
                "text/plain" | "text/*" | "*/*" => 2,
                _ => continue,
            };
            best[slot] = best[slot].max(quality);
        }
        if !cfg!(feature = "protobuf") {
            best[0] = 0.0;
        }
        let top = best.iter().copied().fold(0.0f32, f32::max);
        if top <= 0.0 {
            return Self::Prometheus;
        }
        match best.iter().position(|&q| q == top) {
            #[cfg(feature = "protobuf")]
            Some(0) => Self::Protobuf,
            Some(1) => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => ExpositionFormat::Prometheus.content_type(),
            Self::OpenMetrics => ExpositionFormat::OpenMetrics.content_type(),
            #[cfg(feature = "protobuf")]
            Self::Protobuf => observe_core::prometheus::protobuf::CONTENT_TYPE,
        }
    }

    /// Every metric of `collector`'s registry in this format: the body of a response,
    /// in a buffer that goes back to the collector for the next scrape when dropped
    /// (serve it with `Bytes::from_owner`, as [`MonitoringService`](super::MonitoringService)
    /// does).
    ///
    /// # Errors
    ///
    /// [`EncodeError`] if a collector registered by the user fails to encode.
    pub fn encode(self, collector: &MetricsCollector) -> Result<Encoded, EncodeError> {
        let text = |format| {
            collector
                .encode_exposition(format)
                .map_err(|_| EncodeError(()))
        };
        match self {
            Self::Prometheus => text(ExpositionFormat::Prometheus),
            Self::OpenMetrics => text(ExpositionFormat::OpenMetrics),
            #[cfg(feature = "protobuf")]
            Self::Protobuf => collector.encode_protobuf().map_err(|_| EncodeError(())),
        }
    }
}

/// The answer to `GET /prometheus` with `accept`.
pub(crate) fn respond(
    collector: &MetricsCollector,
    accept: Option<&str>,
) -> Response<MonitoringBody> {
    let format = Exposition::negotiate(accept);
    match format.encode(collector) {
        Ok(body) => {
            let length = body.len();
            let mut reply = response::bytes(StatusCode::OK, format.content_type(), Vec::new());
            // No copy: the body owns the buffer and gives it back once sent.
            *reply.body_mut() = MonitoringBody::new(Bytes::from_owner(body));
            reply
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, length.into());
            reply
        }
        Err(_) => response::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a metric failed to encode",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::Exposition;

    #[test]
    fn qualities_decide_and_ties_prefer_the_richer_format() {
        let cases = [
            ("text/plain", Exposition::Prometheus),
            ("application/openmetrics-text", Exposition::OpenMetrics),
            (
                "application/openmetrics-text;q=0.4,text/plain;q=0.5",
                Exposition::Prometheus,
            ),
            (
                "text/plain;q=0.5,application/openmetrics-text;q=0.5",
                Exposition::OpenMetrics,
            ),
            ("application/openmetrics-text;q=0", Exposition::Prometheus),
            ("application/json", Exposition::Prometheus),
            ("", Exposition::Prometheus),
            ("application/openmetrics-text;q=nan", Exposition::Prometheus),
            // A protobuf of another message is not ours.
            (
                "application/vnd.google.protobuf;proto=io.prometheus.write.WriteRequest",
                Exposition::Prometheus,
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(Exposition::negotiate(Some(accept)), expected, "{accept}");
        }
    }

    #[cfg(feature = "protobuf")]
    #[test]
    fn protobuf_is_chosen_only_when_asked_for() {
        let cases = [
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
                Exposition::Protobuf,
            ),
            ("application/vnd.google.protobuf", Exposition::Protobuf),
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
                Exposition::Prometheus,
            ),
            (
                "application/vnd.google.protobuf;q=0.2,application/openmetrics-text;q=0.3",
                Exposition::OpenMetrics,
            ),
            (
                "application/openmetrics-text;q=0.5,application/vnd.google.protobuf;q=0.5",
                Exposition::Protobuf,
            ),
            (
                "application/vnd.google.protobuf;q=0",
                Exposition::Prometheus,
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(Exposition::negotiate(Some(accept)), expected, "{accept}");
        }
    }
}
