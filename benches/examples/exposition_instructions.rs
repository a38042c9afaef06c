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
//! ROW is one of `observe/protobuf`, `observe/protobuf_native`, `observe/text` (the
//! reused buffer), `observe/text_string` (a fresh `String` a scrape),
//! `prometheus_client/protobuf_histogram_and_3_counters` and
//! `prometheus_client/protobuf_native_histogram_and_3_counters`. The difference of the
//! two totals (`Collected`), divided by 10 and by SERIES, is the instructions per series
//! of one scrape, setup excluded.
//!
//! `exposition_instructions interleaved SERIES ROUNDS` times the four rows instead, in
//! one process, one encode of each per round in turn, by the thread's CPU time (time
//! spent preempted does not count), and prints each row's median and the median of the
//! per-round ratios: on a loaded machine each round's rows share the same load, so the
//! ratios hold where separate criterion runs swing.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use observe_core::prometheus::ExpositionFormat;
use rustix::time::{ClockId, clock_gettime};

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
    if row == "interleaved" {
        interleaved(&names, iterations);
        return ExitCode::SUCCESS;
    }
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
        // The text exposition into the collector's reused buffer (what the endpoints
        // serve), and into a fresh `String` each time: `/usr/bin/time -f %R` of 0 and
        // of N encodes, in separate processes, shows what each scrape costs in page
        // faults (a fresh ~2 MB buffer is a fresh mapping, faulted in page by page).
        "observe/text" | "observe/text_string" => {
            let collector = observe_collector(&names, false);
            for _ in 0..iterations {
                bytes = if row.ends_with("string") {
                    let text = collector
                        .encode_prometheus(ExpositionFormat::Prometheus)
                        .expect("no user collector to fail");
                    black_box(text).len()
                } else {
                    let encoded = collector
                        .encode_exposition(ExpositionFormat::Prometheus)
                        .expect("no user collector to fail");
                    black_box(encoded).len()
                };
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

/// One row's encode, returning the bytes written.
type Encode<'a> = Box<dyn Fn() -> usize + 'a>;

/// The four rows timed in turn, `rounds` times; medians and per-round ratios.
fn interleaved(names: &[String], rounds: usize) {
    let classic = observe_collector(names, false);
    let native = observe_collector(names, true);
    let peer = prometheus_client_registry_of(names, true, prometheus_client_histogram);
    let peer_native =
        prometheus_client_registry_of(names, true, prometheus_client_native_histogram);
    let cpu = || {
        let now = clock_gettime(ClockId::ThreadCPUTime);
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    };
    let time = |f: &dyn Fn() -> usize| {
        let start = cpu();
        black_box(f());
        cpu().saturating_sub(start)
    };
    let rows: [(&str, Encode<'_>); 4] = [
        (
            "observe/protobuf",
            Box::new(|| classic.encode_protobuf().map_or(0, |e| e.len())),
        ),
        (
            "observe/protobuf_native",
            Box::new(|| native.encode_protobuf().map_or(0, |e| e.len())),
        ),
        (
            "prometheus_client/protobuf_histogram_and_3_counters",
            Box::new(|| encode_to_vec(&peer).map_or(0, |e| e.len())),
        ),
        (
            "prometheus_client/protobuf_native_histogram_and_3_counters",
            Box::new(|| encode_to_vec(&peer_native).map_or(0, |e| e.len())),
        ),
    ];
    // One warm-up round: the pooled buffers and the peers' first allocations.
    for (_, f) in &rows {
        black_box(f());
    }
    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 0..rounds {
        // Each round starts with another row, so that no row always runs first.
        for j in 0..rows.len() {
            let i = (round + j) % rows.len();
            times[i].push(time(&*rows[i].1));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for (i, (row, _)) in rows.iter().enumerate() {
        let ms = median(times[i].iter().map(|t| t.as_secs_f64() * 1e3).collect());
        println!(
            "{row}/{}: median {ms:.3} ms over {rounds} rounds",
            names.len()
        );
    }
    let ratio = |a: usize, b: usize| {
        median(
            times[a]
                .iter()
                .zip(&times[b])
                .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
                .collect(),
        )
    };
    println!(
        "ratios (median of per-round): native/classic {:.2}, native/peer native {:.2}, \
         classic/peer classic {:.2}, peer native/peer classic {:.2}",
        ratio(1, 0),
        ratio(1, 3),
        ratio(0, 2),
        ratio(3, 2)
    );
}
