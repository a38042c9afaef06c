//! What the fuzz targets (`fuzz/`, docs/fuzzing.md) found about the exposition.

use std::time::Duration;

use observe_core::MetricsCollector;
use observe_core::prometheus::ExpositionFormat;

use super::promtool;

/// `http_route` found a route label with a raw carriage return that openmetrics-parser
/// refuses: the text format escapes only `\`, `"` and a line feed, so the carriage
/// return stays raw, and Prometheus's own parser (promtool) reads it as part of the
/// value. Held here for operation names, which are written the same way.
#[test]
fn a_carriage_return_in_a_name_stays_raw_and_prometheus_reads_it() {
    let collector = MetricsCollector::builder()
        .process_metrics(false)
        .build()
        .expect("valid");
    collector.record_operation(
        "carriage\rreturn \"and\" \\ new\nline",
        Duration::from_millis(3),
        false,
    );
    for format in [ExpositionFormat::Prometheus, ExpositionFormat::OpenMetrics] {
        let text = collector.encode_prometheus(format).expect("encodes");
        assert!(
            text.contains("operation=\"carriage\rreturn \\\"and\\\" \\\\ new\\nline\"} 1\n"),
            "{text}"
        );
    }
    promtool::check(
        &collector
            .encode_prometheus(ExpositionFormat::Prometheus)
            .expect("encodes"),
    );
}
