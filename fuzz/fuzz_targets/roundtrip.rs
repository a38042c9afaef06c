//! Round trip of the exposition: operation names (any text), outcomes and durations are
//! recorded, and the Prometheus text, OpenMetrics text and protobuf outputs are parsed
//! back (by `openmetrics-parser` and by `prost` with Prometheus's `MetricFamily`). Each
//! must parse and carry every operation under its name as documented (cut to
//! `max_name_length` at a character boundary, folded into `__overflow__` past
//! `max_operations`), with its counts and the sum of its durations (each clamped to
//! 2^53 ns); a reset of the JSON views changes none of it.
//!
//! Input, one item a line: `#max_name_length=N`, `#max_operations=N`, `#native=SCHEMA`,
//! `#reset`, or a record `<outcome><nanoseconds> <name>` with the outcome `+` (ok), `-`
//! (error) or `x` (cancelled), and `\n`, `\t`, `\\` escapes in the name.

#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use observe_core::prometheus::ExpositionFormat;
use observe_core::{MetricsCollector, OVERFLOW_OPERATION, Outcome};
use openmetrics_parser::{MetricNumber, PrometheusValue};
use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::MetricFamily;
use prost::Message;

const MAX_RECORDED_NS: u64 = 1 << 53;

#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    count: u64,
    errors: u64,
    cancelled: u64,
    sum_ns: u128,
}

enum Item {
    Record(Outcome, u64, String),
    Reset,
}

struct Input {
    max_name_length: usize,
    max_operations: usize,
    native: Option<i8>,
    items: Vec<Item>,
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = parse(&String::from_utf8_lossy(data)) else {
        return;
    };
    let mut builder = MetricsCollector::builder()
        .namespace("svc")
        .process_metrics(false)
        .max_name_length(input.max_name_length)
        .max_operations(input.max_operations);
    if let Some(schema) = input.native {
        builder = builder.native_histograms(schema);
    }
    let Ok(collector) = builder.build() else {
        // A schema out of range is refused at build, as documented.
        assert!(input.native.is_some_and(|s| !(-4..=6).contains(&s)));
        return;
    };

    // The model: names in order of first use, cut, folded past the cap.
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    let mut created = 0usize;
    for item in &input.items {
        match item {
            Item::Reset => collector.reset(),
            Item::Record(outcome, ns, name) => {
                collector.record_outcome(name, Duration::from_nanos(*ns), *outcome);
                let mut key = cut(name, input.max_name_length).to_owned();
                if !expected.contains_key(&key) {
                    if created < input.max_operations {
                        created += 1;
                    } else {
                        key = OVERFLOW_OPERATION.to_owned();
                    }
                }
                let e = expected.entry(key).or_default();
                e.count += 1;
                e.errors += u64::from(*outcome != Outcome::Ok);
                e.cancelled += u64::from(*outcome == Outcome::Cancelled);
                e.sum_ns += u128::from((*ns).min(MAX_RECORDED_NS));
            }
        }
    }

    let text = collector
        .encode_prometheus(ExpositionFormat::Prometheus)
        .unwrap_or_else(|e| panic!("{e}"));
    let parsed = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("Prometheus text does not parse: {e:?}\n{text}"));
    let found = from_text(&parsed.families, "svc_operations_total", |v| match v {
        PrometheusValue::Counter(c) => Some(c.value),
        _ => None,
    });
    compare(&expected, &found, &parsed.families, &text);

    let text = collector
        .encode_prometheus(ExpositionFormat::OpenMetrics)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text.ends_with("# EOF\n"));
    // The parser refuses a UNIT on histograms, which OpenMetrics 1.0 allows: check the
    // rest with the units taken out (as the exposition tests do).
    let without_units: String = text
        .lines()
        .filter(|l| !l.starts_with("# UNIT "))
        .map(|l| format!("{l}\n"))
        .collect();
    // It also refuses a family without samples (which OpenMetrics 1.0 allows, and
    // which the operation families are before the first record).
    if !expected.is_empty() {
        let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&without_units)
            .unwrap_or_else(|e| panic!("OpenMetrics does not parse: {e:?}\n{text}"));
        check_openmetrics(&expected, &parsed.families, &text);
    }

    let body = collector
        .encode_protobuf()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut rest = &body[..];
    let mut families = Vec::new();
    while !rest.is_empty() {
        families.push(
            MetricFamily::decode_length_delimited(&mut rest)
                .unwrap_or_else(|e| panic!("protobuf does not decode: {e}")),
        );
    }
    check_protobuf(&expected, &families, input.native);
});

type Families<T, V> = std::collections::HashMap<String, openmetrics_parser::MetricFamily<T, V>>;

/// The value of each series of `family`, by its `operation` label.
fn from_text<T: Clone, V: openmetrics_parser::RenderableMetricValue + Clone>(
    families: &Families<T, V>,
    family: &str,
    value: impl Fn(&V) -> Option<MetricNumber>,
) -> BTreeMap<String, f64> {
    let Some(family) = families.get(family) else {
        return BTreeMap::new();
    };
    family
        .iter_samples()
        .map(|s| {
            let labels = s.get_labelset().unwrap_or_else(|e| panic!("{e:?}"));
            let name = labels
                .get_label_value("operation")
                .unwrap_or_else(|| panic!("no operation label in {}", family.family_name));
            let v = value(&s.value).unwrap_or_else(|| panic!("not a counter"));
            (name.to_owned(), v.as_f64())
        })
        .collect()
}

fn compare<T: Clone>(
    expected: &BTreeMap<String, Expected>,
    counts: &BTreeMap<String, f64>,
    families: &Families<T, PrometheusValue>,
    text: &str,
) {
    let names: Vec<_> = counts.keys().collect();
    let wanted: Vec<_> = expected.keys().collect();
    assert_eq!(names, wanted, "operation names\n{text}");
    let counter = |family: &str| {
        from_text(families, family, |v| match v {
            PrometheusValue::Counter(c) => Some(c.value),
            _ => None,
        })
    };
    let errors = counter("svc_operation_errors_total");
    let cancelled = counter("svc_operation_cancelled_total");
    let histograms = families
        .get("svc_operation_duration_seconds")
        .unwrap_or_else(|| panic!("no duration family\n{text}"));
    for (name, e) in expected {
        assert_eq!(counts[name] as u64, e.count, "{name:?} count\n{text}");
        assert_eq!(
            errors.get(name).copied().unwrap_or(0.0) as u64,
            e.errors,
            "{name:?} errors"
        );
        assert_eq!(
            cancelled.get(name).copied().unwrap_or(0.0) as u64,
            e.cancelled,
            "{name:?} cancelled"
        );
        let sample = histograms
            .get_sample_by_label_values(std::slice::from_ref(name))
            .unwrap_or_else(|| panic!("no histogram of {name:?}"));
        let PrometheusValue::Histogram(h) = &sample.value else {
            panic!("not a histogram");
        };
        assert_eq!(h.count, Some(e.count), "{name:?} histogram count");
        let inf = h
            .buckets
            .iter()
            .find(|b| b.upper_bound.is_infinite())
            .expect("+Inf");
        assert_eq!(inf.count.as_f64() as u64, e.count);
        let sum = h.sum.as_ref().map(MetricNumber::as_f64).expect("a sum");
        close(sum, e.sum_ns, name);
    }
}

fn check_openmetrics(
    expected: &BTreeMap<String, Expected>,
    families: &Families<openmetrics_parser::OpenMetricsType, openmetrics_parser::OpenMetricsValue>,
    text: &str,
) {
    use openmetrics_parser::OpenMetricsValue as V;
    let counter = |family: &str| {
        from_text(families, family, |v| match v {
            V::Counter(c) => Some(c.value),
            _ => None,
        })
    };
    let counts = counter("svc_operations");
    let names: Vec<_> = counts.keys().collect();
    let wanted: Vec<_> = expected.keys().collect();
    assert_eq!(names, wanted, "OpenMetrics operation names\n{text}");
    let errors = counter("svc_operation_errors");
    for (name, e) in expected {
        assert_eq!(counts[name] as u64, e.count, "{name:?} count\n{text}");
        assert_eq!(errors.get(name).copied().unwrap_or(0.0) as u64, e.errors);
    }
}

fn check_protobuf(
    expected: &BTreeMap<String, Expected>,
    families: &[MetricFamily],
    native: Option<i8>,
) {
    let family = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    };
    let operation =
        |m: &prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::Metric| {
            m.label
                .iter()
                .find(|l| l.name == "operation")
                .map(|l| l.value.clone())
                .unwrap_or_else(|| panic!("no operation label"))
        };
    if expected.is_empty() {
        return;
    }
    let total = family("svc_operations_total");
    let mut names: Vec<String> = total.metric.iter().map(operation).collect();
    names.sort();
    let wanted: Vec<_> = expected.keys().cloned().collect();
    assert_eq!(names, wanted, "protobuf operation names");
    for m in &total.metric {
        let name = operation(m);
        let value = m.counter.as_ref().map_or(-1.0, |c| c.value);
        assert_eq!(
            value as u64, expected[&name].count,
            "{name:?} protobuf count"
        );
    }
    for m in &family("svc_operation_duration_seconds").metric {
        let name = operation(m);
        let h = m
            .histogram
            .as_ref()
            .unwrap_or_else(|| panic!("no histogram"));
        let e = &expected[&name];
        assert_eq!(h.sample_count, e.count, "{name:?} protobuf histogram count");
        close(h.sample_sum, e.sum_ns, &name);
        if native.is_some() {
            let zero = h.zero_count;
            let deltas: i64 = h
                .positive_delta
                .iter()
                .scan(0i64, |c, d| {
                    *c += d;
                    Some(*c)
                })
                .sum();
            assert_eq!(zero + deltas as u64, e.count, "{name:?} native buckets");
        }
    }
}

fn close(seconds: f64, ns: u128, name: &str) {
    let want = ns as f64 / 1e9;
    assert!(
        (seconds - want).abs() <= 1e-9 * want.max(1.0),
        "{name:?} sum {seconds} s, recorded {want} s"
    );
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn parse(text: &str) -> Option<Input> {
    let mut input = Input {
        max_name_length: 128,
        max_operations: 8,
        native: None,
        items: Vec::new(),
    };
    for line in text.split('\n') {
        if let Some(setting) = line.strip_prefix('#') {
            let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
            match key {
                "max_name_length" => {
                    input.max_name_length = value.parse().ok().filter(|n| (1..=512).contains(n))?
                }
                "max_operations" => {
                    input.max_operations = value.parse().ok().filter(|n| (1..=64).contains(n))?
                }
                "native" => input.native = Some(value.parse().ok()?),
                "reset" => input.items.push(Item::Reset),
                _ => {}
            }
            continue;
        }
        let mut chars = line.chars();
        let outcome = match chars.next() {
            Some('+') => Outcome::Ok,
            Some('-') => Outcome::Error,
            Some('x') => Outcome::Cancelled,
            _ => continue,
        };
        let rest = chars.as_str();
        let (ns, name) = rest.split_once(' ').unwrap_or((rest, ""));
        let Ok(ns) = ns.parse::<u64>() else { continue };
        let name = unescape(name);
        // A raw carriage return is valid in a label value (promtool accepts it), but
        // openmetrics-parser reads it as the end of a line: left out (docs/fuzzing.md).
        if name.contains('\r') {
            return None;
        }
        input.items.push(Item::Record(outcome, ns, name));
        if input.items.len() > 64 {
            return None;
        }
    }
    Some(input)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
