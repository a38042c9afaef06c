//! The operation families written straight into text, in either format.
//!
//! A scrape is mostly operation samples: 21 lines per operation with the default
//! buckets. Going through `prometheus-client`'s encoder costs a dynamic `fmt::Write`
//! call per fragment and, for Prometheus text, a second pass that renames counters.
//! Here every line is a prefix built once per collector (`…_bucket{le="0.5",operation="`),
//! the operation's name escaped once per scrape, and a number. The output is the same,
//! byte for byte, as [`OperationsCollector`](super::OperationsCollector) writes through
//! `prometheus-client` (a test holds them to it); that collector still serves whoever
//! encodes the registry directly, and registries of the user's own, whose prefix and
//! constant labels only `prometheus-client` knows.

use std::cell::Cell;

use super::ExpositionFormat;
use super::operations::{HELP_BUILD, HELP_CANCELLED, HELP_DURATION, HELP_ERRORS, HELP_OPERATIONS};
use super::readings::Readings;
use crate::collector::MetricsCollector;
use crate::engine::Exemplar;
use crate::engine::Lifetime;

thread_local! {
    /// The collector (its address) whose families this thread is writing by hand, so that
    /// its `OperationsCollector` stays silent during that encode of the registry, and
    /// whether it writes a text format (where its histogram families are written by hand
    /// too).
    static WRITING_BY_HAND: Cell<(usize, bool)> = const { Cell::new((0, false)) };
}

/// Whether this thread is writing the operation families of `collector` by hand right
/// now.
pub(super) fn writes_by_hand(collector: &MetricsCollector) -> bool {
    WRITING_BY_HAND.get().0 == collector.address()
}

/// Whether this thread is writing every family of `collector` by hand, its
/// [`HistogramFamily`](super::HistogramFamily)s included: a text format.
pub(super) fn writes_text_by_hand(collector: &MetricsCollector) -> bool {
    WRITING_BY_HAND.get() == (collector.address(), true)
}

/// Marks the families of one collector as written by hand until dropped (panics
/// included).
pub(crate) struct HandWritten {
    previous: (usize, bool),
}

impl HandWritten {
    /// `text`: the histogram families too, not only the operations.
    pub(crate) fn mark(collector: &MetricsCollector, text: bool) -> Self {
        Self {
            previous: WRITING_BY_HAND.replace((collector.address(), text)),
        }
    }
}

impl Drop for HandWritten {
    fn drop(&mut self) {
        WRITING_BY_HAND.set(self.previous);
    }
}

/// One counter family: its comment lines in each format and its sample prefix.
#[derive(Debug)]
struct CounterFamily {
    openmetrics_header: String,
    prometheus_header: String,
    /// `{ns}_operations_total{operation="`
    prefix: String,
    value: fn(&Lifetime) -> u64,
}

/// The fixed text of a collector's operation families, built once.
#[derive(Debug)]
pub(crate) struct OperationsWriter {
    counters: [CounterFamily; 3],
    histogram_openmetrics_header: String,
    histogram_prometheus_header: String,
    sum_prefix: String,
    count_prefix: String,
    /// One per `le` boundary, then `+Inf`.
    bucket_prefixes: Vec<String>,
    build_info: String,
}

impl OperationsWriter {
    pub(crate) fn new(namespace: &str, le_seconds: &[f64]) -> Self {
        let counter = |name: &str, help: &str, value: fn(&Lifetime) -> u64| CounterFamily {
            openmetrics_header: format!(
                "# HELP {namespace}_{name} {help}\n# TYPE {namespace}_{name} counter\n"
            ),
            prometheus_header: format!(
                "# HELP {namespace}_{name}_total {help}\n# TYPE {namespace}_{name}_total counter\n"
            ),
            prefix: format!("{namespace}_{name}_total{{operation=\""),
            value,
        };
        let histogram = format!("{namespace}_operation_duration_seconds");
        let bucket_prefixes = le_seconds
            .iter()
            .map(|&le| dtoa::Buffer::new().format(le).to_owned())
            .chain(std::iter::once("+Inf".to_owned()))
            .map(|le| format!("{histogram}_bucket{{le=\"{le}\",operation=\""))
            .collect();
        Self {
            counters: [
                counter("operations", HELP_OPERATIONS, |r| r.count),
                counter("operation_errors", HELP_ERRORS, |r| r.errors),
                counter("operation_cancelled", HELP_CANCELLED, |r| r.cancelled),
            ],
            histogram_prometheus_header: format!(
                "# HELP {histogram} {HELP_DURATION}\n# TYPE {histogram} histogram\n"
            ),
            histogram_openmetrics_header: format!(
                "# HELP {histogram} {HELP_DURATION}\n# TYPE {histogram} histogram\n\
                 # UNIT {histogram} seconds\n"
            ),
            sum_prefix: format!("{histogram}_sum{{operation=\""),
            count_prefix: format!("{histogram}_count{{operation=\""),
            bucket_prefixes,
            build_info: format!(
                "# HELP {namespace}_build_info {HELP_BUILD}\n\
                 # TYPE {namespace}_build_info gauge\n\
                 {namespace}_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }

    /// Appends the operation families of `readings` to `out` in `format`.
    pub(crate) fn write(&self, readings: &Readings, format: ExpositionFormat, out: &mut String) {
        let openmetrics = format == ExpositionFormat::OpenMetrics;
        // Each name escaped once, reused by its 21 lines.
        let names: Vec<_> = readings.iter().map(|(name, ..)| escape(name)).collect();
        let mut number = itoa::Buffer::new();

        for family in &self.counters {
            out.push_str(if openmetrics {
                &family.openmetrics_header
            } else {
                &family.prometheus_header
            });
            for ((_, lifetime, _), name) in readings.iter().zip(&names) {
                sample(
                    out,
                    &family.prefix,
                    name,
                    number.format((family.value)(lifetime)),
                );
            }
        }

        out.push_str(if openmetrics {
            &self.histogram_openmetrics_header
        } else {
            &self.histogram_prometheus_header
        });
        let mut float = dtoa::Buffer::new();
        let entries = readings.iter().zip(&names).zip(readings.operations());
        for (((_, lifetime, buckets), name), op) in entries {
            sample(
                out,
                &self.sum_prefix,
                name,
                float.format(lifetime.sum_seconds),
            );
            sample(out, &self.count_prefix, name, number.format(lifetime.count));
            // Exemplars only in OpenMetrics, only on buckets: Prometheus fails the whole
            // scrape for one in text 0.0.4 or on a `_count` line.
            let mut exemplars = openmetrics.then(|| op.exemplars());
            let mut cumulative = 0u64;
            for (prefix, &count) in self.bucket_prefixes.iter().zip(buckets) {
                cumulative += count;
                let exemplar = exemplars.as_mut().and_then(Iterator::next).flatten();
                match exemplar {
                    None => sample(out, prefix, name, number.format(cumulative)),
                    Some(exemplar) => {
                        out.push_str(prefix);
                        out.push_str(name);
                        out.push_str("\"} ");
                        out.push_str(number.format(cumulative));
                        write_exemplar(out, &exemplar, op.shared().wall_time(exemplar.at_ns));
                        out.push('\n');
                    }
                }
            }
        }

        out.push_str(&self.build_info);
    }
}

/// One sample line: `prefix` (up to the opening quote of the operation), the escaped
/// name, and the value.
#[inline]
fn sample(out: &mut String, prefix: &str, name: &str, value: &str) {
    out.push_str(prefix);
    out.push_str(name);
    out.push_str("\"} ");
    out.push_str(value);
    out.push('\n');
}

/// ` # {trace_id="…",span_id="…"} <seconds> <timestamp>`: 63 characters of labels,
/// under the 128 that Prometheus keeps.
pub(super) fn write_exemplar(out: &mut String, exemplar: &Exemplar, at: std::time::SystemTime) {
    let trace = &exemplar.trace;
    out.push_str(" # {trace_id=\"");
    push_hex(out, trace.trace_id(), 32);
    out.push_str("\",span_id=\"");
    push_hex(out, u128::from(trace.span_id()), 16);
    out.push_str("\"} ");
    out.push_str(dtoa::Buffer::new().format(exemplar.value_ns as f64 / 1e9));
    let since_epoch = at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    out.push(' ');
    // Milliseconds are plenty, and keep the float exact in its decimals.
    out.push_str(dtoa::Buffer::new().format((since_epoch * 1e3).round() / 1e3));
}

/// The low `digits` hex digits of `value`, lowercase and zero-padded, without the
/// formatting machinery (a scrape may write thousands).
fn push_hex(out: &mut String, value: u128, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buffer = [0u8; 32];
    let digits = digits.min(32);
    for (i, byte) in buffer[..digits].iter_mut().enumerate() {
        let shift = 4 * (digits - 1 - i);
        *byte = HEX[(value >> shift) as usize & 0xf];
    }
    // Hex digits are ASCII.
    out.push_str(std::str::from_utf8(&buffer[..digits]).unwrap_or_default());
}

/// A label value escaped as both formats want it: `\\`, `\"` and `\n`.
pub(super) fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped.into()
}

#[cfg(test)]
mod tests {
    use super::{escape, push_hex};

    #[test]
    fn hex_is_lowercase_and_padded() {
        let mut out = String::new();
        push_hex(&mut out, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736, 32);
        push_hex(&mut out, 0xab, 16);
        assert_eq!(out, "4bf92f3577b34da6a3ce929d0e0e473600000000000000ab");
    }

    #[test]
    fn label_values_are_escaped_only_where_needed() {
        assert!(matches!(
            escape("plain λ"),
            std::borrow::Cow::Borrowed("plain λ")
        ));
        assert_eq!(escape("a\\b\"c\nd\re"), "a\\\\b\\\"c\\nd\re");
    }
}
