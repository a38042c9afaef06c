//! `Accept` negotiation of the exposition (`Exposition::negotiate`): any header picks one
//! of the three formats without a panic, and the choice obeys the rules that do not
//! depend on how the header is split: a range that names none of our formats changes
//! nothing, a format offered at full quality wins (protobuf first on a tie), and a
//! header that names neither OpenMetrics nor protobuf gets Prometheus text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use observe_tower::monitoring::Exposition;

const PROTOBUF: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

fuzz_target!(|data: &[u8]| {
    let Ok(accept) = std::str::from_utf8(data) else {
        return;
    };
    let chosen = Exposition::negotiate(Some(accept));
    assert_eq!(chosen, Exposition::negotiate(Some(accept)), "deterministic");
    assert!(!chosen.content_type().is_empty());

    let lower = accept.to_ascii_lowercase();
    if !lower.contains("openmetrics") && !lower.contains("protobuf") {
        assert_eq!(chosen, Exposition::Prometheus, "{accept:?}");
    }
    // A range no format answers to, appended, changes nothing.
    let with_junk = format!("{accept},application/json;q=1");
    assert_eq!(
        Exposition::negotiate(Some(&with_junk)),
        chosen,
        "{with_junk:?}"
    );
    // OpenMetrics at full quality wins over everything but protobuf at full quality.
    let with_om = format!("{accept},application/openmetrics-text;version=1.0.0");
    let om = Exposition::negotiate(Some(&with_om));
    assert!(
        om == Exposition::OpenMetrics || om == Exposition::Protobuf,
        "{with_om:?} chose {om:?}"
    );
    // Protobuf at full quality always wins.
    let with_pb = format!("{accept},{PROTOBUF}");
    assert_eq!(
        Exposition::negotiate(Some(&with_pb)),
        Exposition::Protobuf,
        "{with_pb:?}"
    );
    // And refused outright (q=0) it is never chosen for a header that asks for nothing
    // else.
    assert_eq!(
        Exposition::negotiate(Some(&format!("{PROTOBUF};q=0"))),
        Exposition::Prometheus
    );
});
