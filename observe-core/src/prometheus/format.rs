//! The two text formats Prometheus scrapes, and content negotiation between them.

use std::fmt::Write as _;

/// A text exposition format.
///
/// ```
/// use observe_core::prometheus::ExpositionFormat;
///
/// let format = ExpositionFormat::from_accept(
///     "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
/// );
/// assert_eq!(format, ExpositionFormat::OpenMetrics);
/// assert_eq!(ExpositionFormat::from_accept("*/*"), ExpositionFormat::Prometheus);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExpositionFormat {
    /// The Prometheus text format, version 0.0.4.
    #[default]
    Prometheus,
    /// OpenMetrics text, version 1.0.0 (ends with `# EOF`).
    OpenMetrics,
}

impl ExpositionFormat {
    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when it lists
    /// `application/openmetrics-text` with a non-zero quality at least as high as any
    /// `text/plain`, Prometheus text otherwise (also for a missing or malformed header).
    #[must_use]
    pub fn from_accept(accept: &str) -> Self {
        let mut openmetrics = 0.0f32;
        let mut plain = 0.0f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(quality),
                "text/plain" | "text/*" | "*/*" => plain = plain.max(quality),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= plain {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

/// Rewrites OpenMetrics text (as `prometheus-client` encodes it) as Prometheus text
/// 0.0.4: counter families take their `_total` name in `HELP` and `TYPE`, `info` families
/// become gauges named `_info`, `unknown` becomes `untyped`, `UNIT` and `EOF` lines go,
/// and so do exemplars (` # {trace_id="…"} 0.5` after a value), which Prometheus text
/// has no syntax for: its parsers reject the whole exposition at the first one.
///
/// Samples, the bulk of the text, are copied in runs between comment lines, not line by
/// line: an exposition has a few comment lines per family and many samples. (A sample
/// line never holds a raw newline: OpenMetrics escapes them in label values.)
pub(crate) fn openmetrics_to_prometheus(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<(&str, &str)> = None;
    let mut rest = openmetrics;
    while !rest.is_empty() {
        if !rest.starts_with("# ") {
            // A run of samples, up to the next comment line.
            let end = next_comment(rest);
            push_samples(&mut out, &rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = rest[..end].trim_end_matches('\n');
        rest = &rest[end..];
        if let Some(comment) = line.strip_prefix("# HELP ") {
            let (name, help) = comment.split_once(' ').unwrap_or((comment, ""));
            pending_help = Some((name, help));
        } else if let Some(comment) = line.strip_prefix("# TYPE ") {
            let (name, kind) = comment.split_once(' ').unwrap_or((comment, "unknown"));
            let (suffix, kind) = match kind {
                "counter" if !name.ends_with("_total") => ("_total", "counter"),
                "info" => ("_info", "gauge"),
                "unknown" => ("", "untyped"),
                "gaugehistogram" => ("", "histogram"),
                "stateset" => ("", "gauge"),
                other => ("", other),
            };
            if let Some((help_name, help)) = pending_help.take()
                && help_name == name
            {
                let _ = writeln!(out, "# HELP {name}{suffix} {help}");
            }
            let _ = writeln!(out, "# TYPE {name}{suffix} {kind}");
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Appends a run of sample lines to `out`, each without its exemplar.
fn push_samples(out: &mut String, samples: &str) {
    // Only an exemplar, or a label value, holds a `#`: most runs are copied whole.
    if !samples.contains('#') {
        out.push_str(samples);
        return;
    }
    for line in samples.split_inclusive('\n') {
        match exemplar_start(line) {
            Some(at) => {
                out.push_str(line.get(..at).unwrap_or(line));
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
}

/// Where the exemplar of a sample line (` # {…} value [timestamp]`) begins: the first
/// ` # ` after the label set, whose quoted values may hold anything.
fn exemplar_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut from = bytes.iter().position(|&b| b == b'{' || b == b' ')?;
    if bytes.get(from) == Some(&b'{') {
        let (mut quoted, mut escaped) = (false, false);
        let close = bytes.iter().skip(from).position(|&b| {
            match (quoted, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') => quoted = false,
                (false, _, b'"') => quoted = true,
                (false, _, b'}') => return true,
                _ => {}
            }
            false
        })?;
        from += close + 1;
    }
    line.get(from..)?.find(" # ").map(|at| from + at)
}

/// Where the next comment line (`# ` at a line start) begins in `text`, or its length.
///
/// Looks for the rare `#` byte (a fast `memchr` scan) rather than for the three-byte
/// pattern, then checks that it starts a line.
fn next_comment(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find('#') {
        let at = from + i;
        if at > 0 && bytes[at - 1] == b'\n' && bytes.get(at + 1) == Some(&b' ') {
            return at;
        }
        from = at + 1;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_found_at_line_starts_only() {
        assert_eq!(next_comment("a 1\nb 2\n# TYPE c gauge\n"), 8);
        assert_eq!(next_comment("a{x=\"# HELP\"} 1\n#notacomment\n"), 29);
        assert_eq!(next_comment("a 1\n"), 4);
        assert_eq!(next_comment("a 1\n#"), 5);
    }

    #[test]
    fn exemplars_are_dropped_from_prometheus_text() {
        let om = "# HELP jobs Jobs.\n# TYPE jobs counter\n\
                  jobs_total 2 # {trace_id=\"abc\"} 2.0\n\
                  jobs_total{q=\"a # {b} c\",r=\"\\\" # {\"} 3 # {trace_id=\"d\"} 1.0 1700000000.5\n\
                  jobs_total{q=\"# not an exemplar\"} 4\n\
                  # HELP t Time.\n# TYPE t histogram\n\
                  t_bucket{le=\"1.0\"} 1 # {trace_id=\"e\"} 0.5\n\
                  t_bucket{le=\"+Inf\"} 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus(om),
            "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n\
             jobs_total 2\n\
             jobs_total{q=\"a # {b} c\",r=\"\\\" # {\"} 3\n\
             jobs_total{q=\"# not an exemplar\"} 4\n\
             # HELP t Time.\n# TYPE t histogram\n\
             t_bucket{le=\"1.0\"} 1\n\
             t_bucket{le=\"+Inf\"} 1\n"
        );
    }

    #[test]
    fn accept_headers_choose_the_format() {
        use ExpositionFormat::{OpenMetrics, Prometheus};
        let cases = [
            ("", Prometheus),
            ("text/plain", Prometheus),
            ("application/openmetrics-text", OpenMetrics),
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                OpenMetrics,
            ),
            ("APPLICATION/OPENMETRICS-TEXT", OpenMetrics),
            ("application/openmetrics-text;q=0", Prometheus),
            (
                "text/plain;q=0.9,application/openmetrics-text;q=0.5",
                Prometheus,
            ),
            ("application/openmetrics-text;q=abc", OpenMetrics),
            (";;;,,,", Prometheus),
        ];
        for (accept, want) in cases {
            assert_eq!(ExpositionFormat::from_accept(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn openmetrics_counters_and_infos_are_renamed_for_prometheus_text() {
        let om = "# HELP a Things.\n# TYPE a counter\na_total 1\n\
                  # HELP b_seconds Time.\n# TYPE b_seconds gauge\n# UNIT b_seconds seconds\nb_seconds 2\n\
                  # HELP v Version.\n# TYPE v info\nv_info{version=\"1\"} 1\n# EOF\n";
        let text = openmetrics_to_prometheus(om);
        assert_eq!(
            text,
            "# HELP a_total Things.\n# TYPE a_total counter\na_total 1\n\
             # HELP b_seconds Time.\n# TYPE b_seconds gauge\nb_seconds 2\n\
             # HELP v_info Version.\n# TYPE v_info gauge\nv_info{version=\"1\"} 1\n"
        );
    }
}
