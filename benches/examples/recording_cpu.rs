//! The recording A/B driver: records N times through one path, for `/usr/bin/time -f %U`
//! to measure in CPU time (which leaves out the time a loaded machine preempts it), base
//! and new builds run alternately. CPU time, not callgrind, because a build from before
//! observe-core read the coarse clock through libc crashes under valgrind (rustix#1559).
//!
//! ```text
//! cargo build --release -p observe-benches --example recording_cpu
//! for round in 1 2 3 4 5; do
//!   for bin in base/recording_cpu new/recording_cpu; do
//!     /usr/bin/time -f "$bin %U" $bin 20000000 handle    # or by_name, timer
//!   done
//! done
//! ```
//!
//! Rows: `handle` (`OperationHandle::record`), `by_name` (`record_operation` with a
//! known name) and `timer` (`start_timer().end_ok()`). Durations cycle over 100 µs to
//! 1.1 ms, so that records spread over the buckets of one decade.

use std::hint::black_box;
use std::time::Duration;

use observe_core::{MetricsCollector, OperationHandle};

/// The duration of record `i`.
fn duration(i: u64) -> Duration {
    Duration::from_micros(100 + i % 1_000)
}

#[inline(never)]
fn by_handle(handle: &OperationHandle, n: u64) {
    for i in 0..n {
        handle.record(black_box(duration(i)), false);
    }
}

#[inline(never)]
fn by_name(collector: &MetricsCollector, n: u64) {
    for i in 0..n {
        collector.record_operation(black_box("by_name"), black_box(duration(i)), false);
    }
}

#[inline(never)]
fn by_timer(handle: &OperationHandle, n: u64) {
    for _ in 0..n {
        handle.start_timer().end_ok();
    }
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000_000);
    let row = std::env::args().nth(2).unwrap_or_default();
    let collector = MetricsCollector::new();
    let handle = collector.operation(&row);
    match row.as_str() {
        "handle" => by_handle(&handle, n),
        "by_name" => by_name(&collector, n),
        "timer" => by_timer(&handle, n),
        other => {
            eprintln!("unknown row {other:?}: handle, by_name or timer");
            std::process::exit(2);
        }
    }
    let recorded = collector.snapshot().iter().map(|op| op.count).sum::<u64>();
    assert_eq!(recorded, n, "every record counted");
}
