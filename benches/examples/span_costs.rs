//! The instructions a span costs under each subscriber, counted by callgrind: the same
//! count for the same binary whatever else the machine does, so layers can be compared
//! on a loaded machine where criterion's nanoseconds cannot.
//!
//! ```text
//! cargo build --release -p observe-benches --example span_costs
//! for n in 10000 30000; do
//!   valgrind --tool=callgrind --callgrind-out-file=cg.MODE.$n \
//!     target/release/examples/span_costs MODE $n
//! done
//! # per span: (inclusive of span_costs::sync_spans or ::polled at 30000 - at 10000) / 20000
//! ```
//!
//! MODE is `registry`, `handwritten` (a start time in the extensions and a `prometheus`
//! `HistogramVec` looked up by name on close, as in `benches/tracing.rs`), `observe`, or
//! `busy` (observe with busy time). The difference of two runs removes the one-time
//! costs (the clock's calibration, the first record of each chunk).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Waker};

use tracing::Instrument;
use tracing_subscriber::prelude::*;

#[path = "../benches/support/spans.rs"]
mod spans;

use spans::{HandWritten, TenPolls};

#[inline(never)]
fn sync_spans(n: usize) {
    for _ in 0..n {
        tracing::info_span!("sync_span").in_scope(|| black_box(1));
    }
}

#[inline(never)]
fn polled(n: usize) {
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..n {
        let mut future = pin!(TenPolls(0).instrument(tracing::info_span!("polled")));
        while future.as_mut().poll(&mut cx).is_pending() {}
    }
}

fn run(n: usize) {
    sync_spans(n);
    polled(n);
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let n = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let collector = observe_core::MetricsCollector::new();
    let observe = observe_core::tracing::layer(&collector);
    match mode.as_str() {
        "registry" => tracing::subscriber::with_default(tracing_subscriber::registry(), || run(n)),
        "handwritten" => {
            let layer = HandWritten::new();
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                run(n);
            });
        }
        "observe" => {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(observe), || {
                run(n);
            });
        }
        "busy" => tracing::subscriber::with_default(
            tracing_subscriber::registry().with(observe.with_busy_time(true)),
            || run(n),
        ),
        other => {
            eprintln!("unknown mode {other:?}: registry, handwritten, observe or busy");
            std::process::exit(2);
        }
    }
}
