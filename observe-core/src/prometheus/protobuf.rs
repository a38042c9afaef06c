//! The Prometheus protobuf exposition: varint-length-delimited
//! `io.prometheus.client.MetricFamily` messages, the format Prometheus scrapes native
//! histograms in.
//!
//! The operation families are written here straight into protobuf, as
//! the hand-written text encoder writes them into text: the fields of each message are
//! fixed, so every byte but the numbers and the operation's name is built once per
//! collector. The rest of the registry (process, health, HTTP and the user's metrics)
//! goes through `prometheus-client`'s own Prometheus protobuf encoder, which carries
//! the exemplars of classic buckets and counters where Prometheus reads them.
//!
//! Field numbers are those of `prometheus/client_model`'s `metrics.proto` (the copy
//! `prometheus-client` compiles); a test decodes what this module writes with the
//! structs generated from it.

use super::native::NativeBuckets;
use super::operations::{HELP_BUILD, HELP_CANCELLED, HELP_DURATION, HELP_ERRORS, HELP_OPERATIONS};
use super::readings::Readings;
use crate::engine::Exemplar;
use crate::engine::Lifetime;

/// The media type of the exposition.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

// `MetricType` values.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const HISTOGRAM: u64 = 4;

#[inline]
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline]
fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[inline]
fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    // Every field here is below 16: one byte.
    out.push(((field << 3) as u8) | wire);
}

#[inline]
fn double(out: &mut Vec<u8>, field: u32, value: f64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

#[inline]
fn uint(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, VARINT);
    varint(out, value);
}

#[inline]
fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(out, field, LEN);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// The start of a `MetricFamily`: name, help and type.
fn family_header(name: &str, help: &str, kind: u64) -> Vec<u8> {
    let mut out = Vec::new();
    bytes(&mut out, 1, name.as_bytes());
    bytes(&mut out, 2, help.as_bytes());
    uint(&mut out, 3, kind);
    out
}

/// Picks one counter out of a reading.
type ReadCounter = fn(&Lifetime) -> u64;

/// The fixed bytes of a collector's operation families, built once.
#[derive(Debug)]
pub(crate) struct ProtobufWriter {
    counters: [(Vec<u8>, ReadCounter); 3],
    histogram: Vec<u8>,
    /// One classic bucket's `upper_bound` field, per `le` boundary, then `+Inf`.
    upper_bounds: Vec<[u8; 9]>,
    build_info: Vec<u8>,
}

impl ProtobufWriter {
    pub(crate) fn new(namespace: &str, le_seconds: &[f64]) -> Self {
        let counter = |name: &str, help: &str| {
            family_header(&format!("{namespace}_{name}_total"), help, COUNTER)
        };
        let upper_bounds = le_seconds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .map(|le| {
                let mut field = [0u8; 9];
                field[0] = (2 << 3) | FIXED64;
                field[1..].copy_from_slice(&le.to_le_bytes());
                field
            })
            .collect();
        let mut build_info = family_header(&format!("{namespace}_build_info"), HELP_BUILD, GAUGE);
        let mut metric = Vec::new();
        let mut label = Vec::new();
        bytes(&mut label, 1, b"version");
        bytes(&mut label, 2, env!("CARGO_PKG_VERSION").as_bytes());
        bytes(&mut metric, 1, &label);
        let mut gauge = Vec::new();
        double(&mut gauge, 1, 1.0);
        bytes(&mut metric, 2, &gauge);
        bytes(&mut build_info, 4, &metric);
        Self {
            counters: [
                (counter("operations", HELP_OPERATIONS), |r| r.count),
                (counter("operation_errors", HELP_ERRORS), |r| r.errors),
                (counter("operation_cancelled", HELP_CANCELLED), |r| {
                    r.cancelled
                }),
            ],
            histogram: family_header(
                &format!("{namespace}_operation_duration_seconds"),
                HELP_DURATION,
                HISTOGRAM,
            ),
            upper_bounds,
            build_info,
        }
    }

    /// Appends the operation families of `readings` to `out`, each family a
    /// length-delimited `MetricFamily`; with native buckets when `readings` holds them
    /// (`zero_threshold` in seconds).
    pub(crate) fn write(&self, readings: &Readings, zero_threshold: f64, out: &mut Vec<u8>) {
        // Each operation's `LabelPair` (`operation="…"`), built once for the four families.
        let mut labels: Vec<u8> = Vec::new();
        let mut label_ends = Vec::with_capacity(readings.len());
        for (name, ..) in readings.iter() {
            let pair_len = 2 + "operation".len() + 1 + varint_len(name.len() as u64) + name.len();
            key(&mut labels, 1, LEN);
            varint(&mut labels, pair_len as u64);
            bytes(&mut labels, 1, b"operation");
            bytes(&mut labels, 2, name.as_bytes());
            label_ends.push(labels.len());
        }
        let label_of = |i: usize| {
            let start = if i == 0 { 0 } else { label_ends[i - 1] };
            &labels[start..label_ends[i]]
        };

        let mut family: Vec<u8> = Vec::new();
        for (header, value) in &self.counters {
            family.clear();
            family.extend_from_slice(header);
            for (i, (_, lifetime, _)) in readings.iter().enumerate() {
                let label = label_of(i);
                // Metric { label, counter: Counter { value } }: the counter is 11 bytes.
                key(&mut family, 4, LEN);
                varint(&mut family, (label.len() + 11) as u64);
                family.extend_from_slice(label);
                key(&mut family, 3, LEN);
                family.push(9);
                double(&mut family, 1, value(lifetime) as f64);
            }
            delimited(out, &family);
        }

        family.clear();
        family.extend_from_slice(&self.histogram);
        let native = readings.native();
        let mut histogram: Vec<u8> = Vec::new();
        let mut bucket: Vec<u8> = Vec::new();
        let entries = readings.iter().enumerate().zip(readings.operations());
        for ((i, (_, lifetime, buckets)), op) in entries {
            histogram.clear();
            uint(&mut histogram, 1, lifetime.count);
            double(&mut histogram, 2, lifetime.sum_seconds);
            // `Bucket.exemplar` of classic buckets: where Prometheus reads exemplars in
            // protobuf (never on the count, never on a native histogram alone).
            let mut exemplars = op.exemplars();
            let mut cumulative = 0u64;
            for (upper_bound, &count) in self.upper_bounds.iter().zip(buckets) {
                cumulative += count;
                bucket.clear();
                uint(&mut bucket, 1, cumulative);
                bucket.extend_from_slice(upper_bound);
                if let Some(exemplar) = exemplars.next().flatten() {
                    write_exemplar(
                        &mut bucket,
                        &exemplar,
                        op.shared().wall_time(exemplar.at_ns),
                    );
                }
                bytes(&mut histogram, 3, &bucket);
            }
            if let Some(native) = native.and_then(|n| n.get(i)) {
                write_native(&mut histogram, &native, zero_threshold);
            }
            let label = label_of(i);
            let metric_len = label.len() + 1 + varint_len(histogram.len() as u64) + histogram.len();
            key(&mut family, 4, LEN);
            varint(&mut family, metric_len as u64);
            family.extend_from_slice(label);
            bytes(&mut family, 7, &histogram);
        }
        delimited(out, &family);

        delimited(out, &self.build_info);
    }
}

/// The native fields of a `Histogram`: schema, zero bucket, positive spans and deltas.
fn write_native(out: &mut Vec<u8>, native: &NativeBuckets<'_>, zero_threshold: f64) {
    key(out, 5, VARINT);
    varint(out, zigzag(i64::from(native.schema)));
    // A zero threshold above zero marks the histogram native even with no buckets yet.
    double(out, 6, zero_threshold);
    uint(out, 7, native.zero_count);
    for &(offset, length) in native.spans {
        let offset = zigzag(i64::from(offset));
        key(out, 12, LEN);
        out.push((2 + varint_len(offset) + varint_len(u64::from(length))) as u8);
        uint(out, 1, offset);
        uint(out, 2, u64::from(length));
    }
    if !native.deltas.is_empty() {
        let len: usize = native.deltas.iter().map(|&d| varint_len(zigzag(d))).sum();
        key(out, 13, LEN);
        varint(out, len as u64);
        for &delta in native.deltas {
            varint(out, zigzag(delta));
        }
    }
}

/// `Exemplar { label: [trace_id, span_id], value, timestamp }` as field 3 of a `Bucket`.
fn write_exemplar(out: &mut Vec<u8>, exemplar: &Exemplar, at: std::time::SystemTime) {
    let mut message = Vec::with_capacity(100);
    let mut hex = [0u8; 32];
    for (name, value, digits) in [
        ("trace_id", exemplar.trace.trace_id(), 32),
        ("span_id", u128::from(exemplar.trace.span_id()), 16),
    ] {
        let value = hex_digits(&mut hex, value, digits);
        key(&mut message, 1, LEN);
        varint(
            &mut message,
            (2 + name.len() + 1 + varint_len(value.len() as u64) + value.len()) as u64,
        );
        bytes(&mut message, 1, name.as_bytes());
        bytes(&mut message, 2, value);
    }
    double(&mut message, 2, exemplar.value_ns as f64 / 1e9);
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    // google.protobuf.Timestamp { seconds = 1, nanos = 2 }
    let mut timestamp = Vec::with_capacity(16);
    uint(&mut timestamp, 1, since.as_secs());
    uint(&mut timestamp, 2, u64::from(since.subsec_nanos()));
    bytes(&mut message, 3, &timestamp);
    bytes(out, 3, &message);
}

/// The low `digits` hex digits of `value`, lowercase and zero-padded, in `buffer`.
fn hex_digits(buffer: &mut [u8; 32], value: u128, digits: usize) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = digits.min(32);
    for (i, byte) in buffer[..digits].iter_mut().enumerate() {
        *byte = HEX[(value >> (4 * (digits - 1 - i))) as usize & 0xf];
    }
    &buffer[..digits]
}

/// Appends `message` with its varint length before it.
fn delimited(out: &mut Vec<u8>, message: &[u8]) {
    varint(out, message.len() as u64);
    out.extend_from_slice(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_follow_the_protobuf_encoding() {
        for (value, expected) in [
            (0u64, &[0u8][..]),
            (1, &[1]),
            (127, &[127]),
            (128, &[0x80, 1]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            ),
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out, expected, "{value}");
            assert_eq!(varint_len(value), expected.len(), "{value}");
        }
        assert_eq!(
            [0, -1, 1, -2, 2, i64::MIN].map(zigzag),
            [0, 1, 2, 3, 4, u64::MAX]
        );
    }
}
