//! [`DashboardHistory`]: the bounded ring of per-interval figures behind the dashboard's
//! charts, sampled at read time from the collector's JSON views.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use observe_core::{MetricsCollector, ProcessStats, SystemSummary};
use serde::Serialize;

/// The longest the table and the summary may be reused between two reads.
const TABLE_MAX_AGE: Duration = Duration::from_secs(1);

/// A name shared by every point that holds it.
#[derive(Clone, Debug)]
struct Name(Arc<str>);

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The figures of one interval.
#[derive(Clone, Debug, Serialize)]
struct Point {
    /// Sequence number, from 1.
    seq: u64,
    /// End of the interval, in milliseconds since the Unix epoch.
    t: u64,
    /// Length of the interval, in seconds.
    dt: f64,
    /// Records per second over every operation.
    rate: f64,
    /// Failed records as a percentage of records, over every operation.
    err: f64,
    /// Resident memory in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    rss: Option<u64>,
    /// CPU time over wall time, in percent of one core.
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<f64>,
    /// The busiest operations of the interval: `[rate/s, error %, recent p95 ms, recent p99 ms]`.
    ops: Vec<(Name, [f64; 4])>,
}

impl Point {
    fn heap_bytes(&self) -> usize {
        self.ops.capacity() * std::mem::size_of::<(Name, [f64; 4])>()
    }
}

/// One row of the operations table.
#[derive(Clone, Debug, Serialize)]
struct Row {
    name: String,
    /// Recent records per second.
    rate: f64,
    /// Recent error percentage.
    err: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    count: u64,
    errors: u64,
    /// Last record, in milliseconds since the Unix epoch.
    last: Option<u64>,
}

/// What the table part of a reply holds: rows, and how many operations there are.
#[derive(Clone, Debug, Serialize)]
struct Table {
    total: usize,
    rows: Vec<Row>,
}

/// The counters of one operation at the last point.
#[derive(Debug)]
struct Counters {
    count: u64,
    errors: u64,
    /// Records in the interval that ended at the last point.
    delta: u64,
    /// The point that last saw it (operations leave only when a collector is rebuilt).
    seen: u64,
}

#[derive(Debug)]
struct State {
    points: VecDeque<Point>,
    next_seq: u64,
    /// When the last point was taken.
    last_point: Option<Instant>,
    /// Every operation's counters at the last point; its keys are the names that the
    /// points share.
    previous: HashMap<Arc<str>, Counters>,
    previous_cpu: Option<f64>,
    /// The table, summary and process figures of the last read, reused for
    /// [`TABLE_MAX_AGE`].
    table_at: Option<Instant>,
    table: Arc<Vec<u8>>,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    interval: Duration,
    capacity: usize,
    operations: usize,
    rows: usize,
}

#[derive(Debug)]
struct Inner {
    collector: MetricsCollector,
    config: Config,
    state: Mutex<State>,
}

/// The dashboard's history: a bounded ring of per-interval figures (request rate, error
/// rate, recent p95/p99 of the busiest operations, process memory and CPU), taken from
/// the collector's JSON views when the dashboard reads it and an interval has passed, or
/// when [`tick`](Self::tick) is called.
///
/// Memory is bounded whatever the number of operations: `points` points of at most
/// `operations` operations each, plus one pair of counters per operation of the
/// collector (itself capped). The defaults, one point per 5 s for 15 minutes and 12
/// operations per point, hold about 100 KiB with long operation names.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
/// use observe_tower::monitoring::DashboardHistory;
///
/// let collector = MetricsCollector::new();
/// let history = DashboardHistory::new(&collector).interval(Duration::ZERO);
/// collector.record_operation("db_query", Duration::from_millis(3), false);
/// assert!(history.tick());
/// let reply: serde_json::Value = serde_json::from_slice(&history.encode_since(Some(0))).unwrap();
/// assert_eq!(reply["points"][0]["ops"][0][0], "db_query");
/// assert_eq!(reply["operations"]["rows"][0]["count"], 1);
/// ```
#[derive(Clone, Debug)]
pub struct DashboardHistory {
    inner: Arc<Inner>,
}

impl DashboardHistory {
    /// The history of `collector`: one point per 5 s, 180 points (15 minutes), the 12
    /// busiest operations per point, the 200 busiest operations in the table.
    pub fn new(collector: &MetricsCollector) -> Self {
        Self::with(
            collector.clone(),
            Config {
                interval: Duration::from_secs(5),
                capacity: 180,
                operations: 12,
                rows: 200,
            },
        )
    }

    fn with(collector: MetricsCollector, config: Config) -> Self {
        let history = Self {
            inner: Arc::new(Inner {
                collector,
                config,
                state: Mutex::new(State {
                    points: VecDeque::with_capacity(config.capacity),
                    next_seq: 1,
                    last_point: None,
                    previous: HashMap::new(),
                    previous_cpu: None,
                    table_at: None,
                    table: Arc::new(Vec::new()),
                }),
            }),
        };
        // The counters the first interval starts from.
        history.tick();
        history
    }

    /// A history with other settings, empty (setters are for building).
    fn set(self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.inner.config;
        f(&mut config);
        config.capacity = config.capacity.max(1);
        Self::with(self.inner.collector.clone(), config)
    }

    /// The time between two points (default 5 s; zero takes a point at every read).
    #[must_use]
    pub fn interval(self, interval: Duration) -> Self {
        self.set(|c| c.interval = interval)
    }

    /// How many points are kept (default 180; at least 1).
    #[must_use]
    pub fn points(self, points: usize) -> Self {
        self.set(|c| c.capacity = points)
    }

    /// How many operations each point keeps, the busiest of its interval (default 12).
    #[must_use]
    pub fn operations(self, operations: usize) -> Self {
        self.set(|c| c.operations = operations)
    }

    /// How many operations the table shows, the busiest recently (default 200).
    #[must_use]
    pub fn table_rows(self, rows: usize) -> Self {
        self.set(|c| c.rows = rows)
    }

    /// The time between two points.
    #[must_use]
    pub fn point_interval(&self) -> Duration {
        self.inner.config.interval
    }

    /// Takes a point if the interval has passed since the last one; returns whether it
    /// did. The dashboard calls this on every read; a task may call it too, so that the
    /// history fills while no one watches.
    pub fn tick(&self) -> bool {
        let mut state = self.lock();
        let now = Instant::now();
        if !self.due(&state, now) {
            return false;
        }
        let process = ProcessStats::read();
        self.take_point(&mut state, now, process.as_ref());
        true
    }

    fn due(&self, state: &State, now: Instant) -> bool {
        state
            .last_point
            .is_none_or(|last| now.duration_since(last) >= self.inner.config.interval)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn take_point(&self, state: &mut State, now: Instant, process: Option<&ProcessStats>) {
        let collector = &self.inner.collector;
        let dt = state
            .last_point
            .map(|last| now.duration_since(last).as_secs_f64());
        let seq = state.next_seq;
        let (mut count, mut errors) = (0u64, 0u64);
        let mut busiest: Vec<(u64, u64, Arc<str>)> = Vec::new();
        // Counters only: no quantile, no window, whatever the number of operations.
        collector.for_each_count(|name, c, e| {
            let (dc, de) = match state.previous.get_mut(name) {
                Some(before) => {
                    // A reset of the JSON views restarts the counters: count from zero.
                    let delta = if c < before.count {
                        (c, e)
                    } else {
                        (c - before.count, e.saturating_sub(before.errors))
                    };
                    *before = Counters {
                        count: c,
                        errors: e,
                        delta: delta.0,
                        seen: seq,
                    };
                    delta
                }
                None => {
                    state.previous.insert(
                        Arc::from(name),
                        Counters {
                            count: c,
                            errors: e,
                            delta: c,
                            seen: seq,
                        },
                    );
                    (c, e)
                }
            };
            count += dc;
            errors += de.min(dc);
            if dc > 0
                && self.inner.config.operations > 0
                && let Some((key, _)) = state.previous.get_key_value(name)
            {
                busiest.push((dc, de.min(dc), Arc::clone(key)));
            }
        });
        state.previous.retain(|_, c| c.seen == seq);
        let cpu_now = process.and_then(|p| p.cpu_seconds);
        let cpu = match (dt, cpu_now, state.previous_cpu) {
            (Some(dt), Some(now), Some(before)) if dt > 0.0 => {
                Some(((now - before).max(0.0) / dt * 100.0 * 10.0).round() / 10.0)
            }
            _ => None,
        };
        state.previous_cpu = cpu_now;
        state.last_point = Some(now);
        // The first point only sets the counters: it has no interval.
        let Some(dt) = dt.filter(|dt| *dt > 0.0) else {
            return;
        };
        let keep = self.inner.config.operations;
        let by_count = |a: &(u64, u64, Arc<str>), b: &(u64, u64, Arc<str>)| {
            b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2))
        };
        if busiest.len() > keep && keep > 0 {
            busiest.select_nth_unstable_by(keep - 1, by_count);
            busiest.truncate(keep);
        }
        busiest.sort_unstable_by(by_count);
        // Quantiles for the few kept only.
        let ops = busiest
            .into_iter()
            .map(|(dc, de, name)| {
                let recent = collector.get(&name).map(|op| op.recent);
                let quantile = |q: Option<Duration>| q.map_or(0.0, ms);
                let figures = [
                    round3(dc as f64 / dt),
                    round3(percent(de, dc)),
                    quantile(recent.as_ref().and_then(|r| r.p95)),
                    quantile(recent.as_ref().and_then(|r| r.p99)),
                ];
                (Name(name), figures)
            })
            .collect();
        let point = Point {
            seq,
            t: epoch_ms(SystemTime::now()),
            dt: round3(dt),
            rate: round3(count as f64 / dt),
            err: round3(percent(errors, count)),
            rss: process.and_then(|p| p.resident_memory_bytes),
            cpu,
            ops,
        };
        state.next_seq += 1;
        if state.points.len() == self.inner.config.capacity {
            state.points.pop_front();
        }
        state.points.push_back(point);
    }

    /// The reply to a dashboard poll, as JSON: the points after `since` (every point
    /// kept without it), the operations table, the collector's summary and the process
    /// figures. Takes a point first if one is due.
    #[must_use]
    pub fn encode_since(&self, since: Option<u64>) -> Vec<u8> {
        let mut state = self.lock();
        let now = Instant::now();
        let point_due = self.due(&state, now);
        let table_due = state
            .table_at
            .is_none_or(|at| now.duration_since(at) >= TABLE_MAX_AGE);
        if point_due || table_due {
            let process = ProcessStats::read();
            if point_due {
                self.take_point(&mut state, now, process.as_ref());
            }
            if table_due {
                let summary = self.inner.collector.summary();
                let table = self.encode_table(&state, &summary, process.as_ref());
                state.table = Arc::new(table);
                state.table_at = Some(now);
            }
        }
        let since = since.unwrap_or(0);
        let points: Vec<&Point> = state.points.iter().filter(|p| p.seq > since).collect();
        #[derive(Serialize)]
        struct Head<'a> {
            seq: u64,
            interval_seconds: f64,
            capacity: usize,
            points: Vec<&'a Point>,
        }
        let head = Head {
            seq: state.next_seq - 1,
            interval_seconds: self.inner.config.interval.as_secs_f64(),
            capacity: self.inner.config.capacity,
            points,
        };
        // `{"seq":..,"points":[..]` + `,"operations":..,"summary":..,"process":..}`
        let mut out = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
        if out.last() == Some(&b'}') && state.table.len() > 2 {
            out.pop();
            out.push(b',');
            out.extend_from_slice(&state.table[1..]);
        }
        out
    }

    /// The table: the operations busiest since the last point (then by count, then by
    /// name), with the full figures of the rows shown only.
    fn encode_table(
        &self,
        state: &State,
        summary: &SystemSummary,
        process: Option<&ProcessStats>,
    ) -> Vec<u8> {
        // The counters of the last point order the rows, unless operations appeared
        // since: then the counters are read again (no quantile, no window either way).
        let mut order: Vec<(u64, u64, Arc<str>)> = Vec::new();
        if self.inner.collector.len() > state.previous.len() {
            self.inner.collector.for_each_count(|name, count, _| {
                let before = state.previous.get(name).map_or(0, |c| c.count);
                order.push((count.saturating_sub(before), count, Arc::from(name)));
            });
        } else {
            order.extend(
                state
                    .previous
                    .iter()
                    .map(|(name, c)| (c.delta, c.count, Arc::clone(name))),
            );
        }
        let total = order.len();
        let by_activity = |a: &(u64, u64, Arc<str>), b: &(u64, u64, Arc<str>)| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then_with(|| a.2.cmp(&b.2))
        };
        let keep = self.inner.config.rows;
        if order.len() > keep && keep > 0 {
            order.select_nth_unstable_by(keep - 1, by_activity);
        }
        order.truncate(keep);
        order.sort_unstable_by(by_activity);
        let rows = order
            .iter()
            .filter_map(|(_, _, name)| self.inner.collector.get(name))
            .map(|op| Row {
                rate: round3(op.recent.rate_per_second),
                err: round3(op.recent.error_rate),
                p50: ms(op.p50),
                p95: ms(op.p95),
                p99: ms(op.p99),
                count: op.count,
                errors: op.error_count,
                last: op.last_recorded.map(epoch_ms),
                name: op.name,
            })
            .collect();
        #[derive(Serialize)]
        struct Tail<'a> {
            operations: Table,
            summary: &'a SystemSummary,
            process: Option<&'a ProcessStats>,
        }
        serde_json::to_vec(&Tail {
            operations: Table { total, rows },
            summary,
            process,
        })
        .unwrap_or_default()
    }

    /// Approximate bytes held by the history (points, counters, names).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let state = self.lock();
        let points: usize = state
            .points
            .iter()
            .map(|p| std::mem::size_of::<Point>() + p.heap_bytes())
            .sum();
        let entry = std::mem::size_of::<(Arc<str>, Counters)>() + 1 + 16;
        let counters: usize = state.previous.keys().map(|name| name.len()).sum::<usize>()
            + state.previous.capacity() * entry;
        points + counters + state.table.capacity()
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part.min(whole) as f64 * 100.0 / whole as f64
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1000.0)
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
