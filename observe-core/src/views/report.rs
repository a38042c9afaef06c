//! The figures read back from a collector, and their JSON form.
//!
//! Every type here is a plain value taken at read time; holding one costs the collector
//! nothing. Durations are [`Duration`]s in Rust and milliseconds (floats with microsecond
//! resolution) in JSON.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The figures of one operation, read at one moment.
///
/// Durations of an operation with no record since creation or the last
/// [`reset`](crate::MetricsCollector::reset) are zero.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
///
/// let collector = MetricsCollector::new();
/// collector.record_operation("db_query", Duration::from_millis(10), false);
/// collector.record_operation("db_query", Duration::from_millis(30), true);
///
/// let op = collector.get("db_query").unwrap();
/// assert_eq!((op.count, op.error_count), (2, 1));
/// assert_eq!(op.error_rate(), 50.0);
/// assert_eq!(op.mean, Duration::from_millis(20));
///
/// let json = serde_json::to_value(&op).unwrap();
/// assert_eq!(json["name"], "db_query");
/// assert_eq!(json["max_duration_ms"], 30.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct OperationSnapshot {
    /// The operation's name, as stored (truncated to the collector's maximum length).
    pub name: String,
    /// How many times it was recorded.
    pub count: u64,
    /// How many of those failed (cancellations included, unless configured otherwise).
    pub error_count: u64,
    /// How many ended because a timer or future was dropped before it finished.
    pub cancelled_count: u64,
    /// The sum of all durations.
    pub total: Duration,
    /// The shortest duration (exact).
    pub min: Duration,
    /// The longest duration (exact).
    pub max: Duration,
    /// `total / count`.
    pub mean: Duration,
    /// The median, from the histogram.
    pub p50: Duration,
    /// The 90th percentile, from the histogram.
    pub p90: Duration,
    /// The 95th percentile, from the histogram.
    pub p95: Duration,
    /// The 99th percentile, from the histogram.
    pub p99: Duration,
    /// The 99.9th percentile, from the histogram.
    pub p999: Duration,
    /// When it was last recorded, if ever.
    pub last_recorded: Option<SystemTime>,
    /// Up to five exemplars recorded within the recent window, slowest first: the
    /// sampled traces of records made with a [`TraceContext`](crate::TraceContext).
    pub exemplars: Vec<ExemplarSnapshot>,
    /// `WARN` log events emitted inside the operation's spans (counted by the
    /// `tracing` layer of the `tracing` feature; 0 without it).
    pub warn_events: u64,
    /// `ERROR` log events emitted inside the operation's spans (counted by the
    /// `tracing` layer of the `tracing` feature; 0 without it).
    pub error_events: u64,
    /// What happened within the recent window only.
    pub recent: RecentSnapshot,
}

impl OperationSnapshot {
    /// Errors as a percentage of all records (0 when there are none).
    #[must_use]
    pub fn error_rate(&self) -> f64 {
        percent(self.error_count, self.count)
    }
}

/// One exemplar: a record of an operation and the sampled trace it belonged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExemplarSnapshot {
    /// The trace and span of the record.
    pub trace: crate::TraceContext,
    /// The duration recorded.
    pub duration: Duration,
    /// When it was recorded.
    pub time: SystemTime,
}

impl Serialize for ExemplarSnapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ExemplarSnapshot", 4)?;
        s.serialize_field("trace_id", &format!("{:032x}", self.trace.trace_id()))?;
        s.serialize_field("span_id", &format!("{:016x}", self.trace.span_id()))?;
        s.serialize_field("duration_ms", &millis(self.duration))?;
        s.serialize_field("time", &rfc3339(self.time))?;
        s.end()
    }
}

/// The figures of one operation over the collector's recent window.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RecentSnapshot {
    /// The span of time these figures cover: the window's length, or less while the
    /// collector is younger than that.
    pub window: Duration,
    /// Records within the window.
    pub count: u64,
    /// Failed records within the window.
    pub error_count: u64,
    /// `count` per second of `window`.
    pub rate_per_second: f64,
    /// Errors as a percentage of `count` (0 when `count` is 0).
    pub error_rate: f64,
    /// The 95th percentile within the window (within 6.25 %), if anything was recorded.
    pub p95: Option<Duration>,
    /// The 99th percentile within the window (within 6.25 %), if anything was recorded.
    pub p99: Option<Duration>,
}

/// Totals over every operation of a collector.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
///
/// let collector = MetricsCollector::new();
/// collector.record_operation("a", Duration::from_millis(1), false);
/// collector.record_operation("b", Duration::from_millis(3), true);
/// let summary = collector.summary();
/// assert_eq!(summary.total_operations, 2);
/// assert_eq!(summary.error_rate, 50.0);
/// assert_eq!(summary.avg_latency, Duration::from_millis(2));
/// assert_eq!(summary.monitored_operations, 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SystemSummary {
    /// Time since the collector was created.
    pub uptime: Duration,
    /// Records over all operations.
    pub total_operations: u64,
    /// Failed records over all operations.
    pub total_errors: u64,
    /// `total_errors` as a percentage of `total_operations`.
    pub error_rate: f64,
    /// Mean duration over all records.
    pub avg_latency: Duration,
    /// The longest duration of any operation.
    pub max_latency: Duration,
    /// Distinct operation entries held (the overflow entry included).
    pub monitored_operations: usize,
    /// Estimated number of distinct names folded into the overflow entry because the
    /// cap on distinct names was reached (a HyperLogLog estimate, within a few percent).
    pub overflowed_operations: u64,
}

pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part.min(whole) as f64 * 100.0 / whole as f64
    }
}

/// Milliseconds as a float, rounded to the microsecond.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// An RFC 3339 timestamp in UTC.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A duration the way Go prints one, to the millisecond: `850ms`, `12.5s`, `2m15s`, `1h0m3s`.
///
/// ```
/// use std::time::Duration;
/// use observe_core::human_duration;
///
/// assert_eq!(human_duration(Duration::ZERO), "0s");
/// assert_eq!(human_duration(Duration::from_micros(1500)), "1.5ms");
/// assert_eq!(human_duration(Duration::from_millis(12_500)), "12.5s");
/// assert_eq!(human_duration(Duration::from_secs(135)), "2m15s");
/// assert_eq!(human_duration(Duration::from_secs(3603)), "1h0m3s");
/// ```
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let mut out = String::new();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        let _ = write!(out, "{nanos}ns");
    } else if nanos < 1_000_000 {
        push_decimal(&mut out, nanos, 1_000, 3);
        out.push_str("µs");
    } else if nanos < 1_000_000_000 {
        push_decimal(&mut out, nanos / 1_000, 1_000, 3);
        out.push_str("ms");
    } else {
        let millis = nanos / 1_000_000;
        let hours = millis / 3_600_000;
        let minutes = millis / 60_000 % 60;
        if hours > 0 {
            let _ = write!(out, "{hours}h");
        }
        if hours > 0 || minutes > 0 {
            let _ = write!(out, "{minutes}m");
        }
        push_decimal(&mut out, millis % 60_000, 1_000, 3);
        out.push('s');
    }
    out
}

/// Writes `value / unit` with up to `digits` decimals, trailing zeros trimmed.
fn push_decimal(out: &mut String, value: u128, unit: u128, digits: usize) {
    let _ = write!(out, "{}", value / unit);
    let frac = value % unit;
    if frac != 0 {
        let text = format!("{frac:0digits$}");
        let _ = write!(out, ".{}", text.trim_end_matches('0'));
    }
}

impl Serialize for OperationSnapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("OperationSnapshot", 20)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("count", &self.count)?;
        s.serialize_field("avg_duration_ms", &millis(self.mean))?;
        s.serialize_field("min_duration_ms", &millis(self.min))?;
        s.serialize_field("max_duration_ms", &millis(self.max))?;
        s.serialize_field("p50_duration_ms", &millis(self.p50))?;
        s.serialize_field("p90_duration_ms", &millis(self.p90))?;
        s.serialize_field("p95_duration_ms", &millis(self.p95))?;
        s.serialize_field("p99_duration_ms", &millis(self.p99))?;
        s.serialize_field("p999_duration_ms", &millis(self.p999))?;
        s.serialize_field("total_duration", &human_duration(self.total))?;
        s.serialize_field("total_duration_ms", &millis(self.total))?;
        s.serialize_field("error_count", &self.error_count)?;
        s.serialize_field("cancelled_count", &self.cancelled_count)?;
        s.serialize_field("error_rate", &self.error_rate())?;
        s.serialize_field("last_recorded", &self.last_recorded.map(rfc3339))?;
        s.serialize_field(
            "events",
            &Events {
                warn: self.warn_events,
                error: self.error_events,
            },
        )?;
        s.serialize_field("recent", &self.recent)?;
        s.serialize_field("exemplars", &self.exemplars)?;
        s.end()
    }
}

/// The `events` object of an operation's JSON.
#[derive(serde::Serialize)]
struct Events {
    warn: u64,
    error: u64,
}

impl Serialize for RecentSnapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RecentSnapshot", 7)?;
        s.serialize_field("window_seconds", &self.window.as_secs_f64())?;
        s.serialize_field("count", &self.count)?;
        s.serialize_field("error_count", &self.error_count)?;
        s.serialize_field("rate_per_second", &self.rate_per_second)?;
        s.serialize_field("error_rate", &self.error_rate)?;
        s.serialize_field("p95_duration_ms", &self.p95.map(millis))?;
        s.serialize_field("p99_duration_ms", &self.p99.map(millis))?;
        s.end()
    }
}

impl Serialize for SystemSummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("SystemSummary", 9)?;
        s.serialize_field(
            "uptime",
            &human_duration(Duration::from_secs(self.uptime.as_secs())),
        )?;
        s.serialize_field("uptime_seconds", &self.uptime.as_secs())?;
        s.serialize_field("total_operations", &self.total_operations)?;
        s.serialize_field("total_errors", &self.total_errors)?;
        s.serialize_field("error_rate", &self.error_rate)?;
        s.serialize_field("avg_latency_ms", &millis(self.avg_latency))?;
        s.serialize_field("max_latency_ms", &millis(self.max_latency))?;
        s.serialize_field("monitored_operations", &self.monitored_operations)?;
        s.serialize_field("overflowed_operations", &self.overflowed_operations)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_read_like_go() {
        let cases = [
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(850_000), "850ms"),
            (Duration::from_millis(1_000), "1s"),
            (Duration::from_millis(59_999), "59.999s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(7_200), "2h0m0s"),
            (Duration::MAX, "5124095576030431h0m15.999s"),
        ];
        for (d, text) in cases {
            assert_eq!(human_duration(d), text);
        }
    }

    #[test]
    fn millis_keep_microsecond_resolution() {
        assert_eq!(millis(Duration::from_nanos(1_234_567)), 1.234);
        assert_eq!(millis(Duration::ZERO), 0.0);
    }

    #[test]
    fn percent_never_exceeds_100_nor_divides_by_zero() {
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(percent(5, 4), 100.0);
        assert_eq!(percent(1, 4), 25.0);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(rfc3339(t), "1970-01-01T00:00:01.5Z");
    }
}
