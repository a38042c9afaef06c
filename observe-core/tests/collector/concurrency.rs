use std::sync::Arc;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use observe_core::MetricsCollector;

const THREADS: u64 = 8;
const RECORDS: u64 = 250_000;
const NAMES: u64 = 16;

#[test]
fn eight_threads_recording_16_names_leave_exact_counts_errors_and_totals() {
    let collector = MetricsCollector::new();
    let handles: Vec<_> = (0..NAMES)
        .map(|n| collector.operation(&format!("op-{n}")))
        .collect();
    let handles = Arc::new(handles);
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let collector = collector.clone();
            let handles = Arc::clone(&handles);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for i in 0..RECORDS {
                    let n = (i + t) % NAMES;
                    let duration = Duration::from_nanos(1_000 + (i % 1_000) * 7);
                    let failed = i % 10 == 0;
                    // Half the records by name, half through a held handle.
                    if i % 2 == 0 {
                        collector.record_operation(&format!("op-{n}"), duration, failed);
                    } else {
                        handles[n as usize].record(duration, failed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker thread");
    }

    // Recompute what every thread recorded, per name.
    let mut expected = vec![(0u64, 0u64, 0u128); NAMES as usize];
    for t in 0..THREADS {
        for i in 0..RECORDS {
            let e = &mut expected[((i + t) % NAMES) as usize];
            e.0 += 1;
            e.1 += u64::from(i % 10 == 0);
            e.2 += u128::from(1_000 + (i % 1_000) * 7);
        }
    }
    for (n, (count, errors, total)) in expected.iter().enumerate() {
        let op = collector.get(&format!("op-{n}")).expect("operation exists");
        assert_eq!(op.count, *count, "count of op-{n}");
        assert_eq!(op.error_count, *errors, "errors of op-{n}");
        assert_eq!(op.total.as_nanos(), *total, "total of op-{n}");
        assert_eq!(op.min, Duration::from_nanos(1_000));
        assert_eq!(op.max, Duration::from_nanos(1_000 + 999 * 7));
    }
    let summary = collector.summary();
    assert_eq!(summary.total_operations, THREADS * RECORDS);
    assert_eq!(summary.monitored_operations, NAMES as usize);
}

#[test]
fn threads_racing_to_create_one_name_share_one_entry() {
    let collector = MetricsCollector::builder()
        .max_operations(1)
        .build()
        .expect("valid config");
    let barrier = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let collector = collector.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                collector.record_operation("contended", Duration::from_micros(1), false);
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker thread");
    }
    assert_eq!(
        collector.len(),
        1,
        "no overflow entry: the cap of 1 was not exceeded"
    );
    assert_eq!(collector.get("contended").map(|op| op.count), Some(4));
}
