//! A fixed amount of protobuf encoding, for instruction counts under callgrind: the
//! same series as the protobuf rows of `benches/exposition.rs`, encoded a given number
//! of times. Wall-clock medians swing with the machine's load; the instructions a run
//! executes do not, so an A/B of two builds compares the counts.
//!
//! ```text
//! cargo build --profile bench -p observe-benches --example exposition_instructions
//! BIN=$CARGO_TARGET_DIR/release/examples/exposition_instructions
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null $BIN ROW SERIES 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null $BIN ROW SERIES 10
//! ```
//!
//! ROW is one of `observe/protobuf`, `observe/protobuf_native`,
//! `prometheus_client/protobuf_histogram_and_3_counters` and
//! `prometheus_client/protobuf_native_histogram_and_3_counters`. The difference of the
//! two totals (`Collected`), divided by 10 and by SERIES, is the instructions per series
//! of one scrape, setup excluded.

use std::hint::black_box;
use std::process::ExitCode;

use prometheus_client::encoding::prometheus_protobuf::encode_to_vec;

#[path = "../benches/support/series.rs"]
mod series;

use series::{
    names, observe_collector, prometheus_client_histogram, prometheus_client_native_histogram,
    prometheus_client_registry_of,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [row, series, iterations] = &args[..] else {
        eprintln!("usage: exposition_instructions ROW SERIES ITERATIONS");
        return ExitCode::FAILURE;
    };
    let (Ok(series), Ok(iterations)) = (series.parse::<usize>(), iterations.parse::<usize>())
    else {
        eprintln!("SERIES and ITERATIONS are numbers");
        return ExitCode::FAILURE;
    };
    let names = names(series);
    let mut bytes = 0;
    match row.as_str() {
        "observe/protobuf" | "observe/protobuf_native" => {
            let collector = observe_collector(&names, row.ends_with("native"));
            for _ in 0..iterations {
                let encoded = collector
                    .encode_protobuf()
                    .expect("no user collector to fail");
                bytes = encoded.len();
                black_box(encoded);
            }
        }
        "prometheus_client/protobuf_histogram_and_3_counters"
        | "prometheus_client/protobuf_native_histogram_and_3_counters" => {
            let histogram = if row.contains("native") {
                prometheus_client_native_histogram
            } else {
                prometheus_client_histogram
            };
            let registry = prometheus_client_registry_of(&names, true, histogram);
            for _ in 0..iterations {
                let encoded = encode_to_vec(&registry).expect("encoding to a Vec does not fail");
                bytes = encoded.len();
                black_box(encoded);
            }
        }
        other => {
            eprintln!("unknown row {other}");
            return ExitCode::FAILURE;
        }
    }
    println!("{row}/{series}: {iterations} encodes, {bytes} bytes each");
    ExitCode::SUCCESS
}
