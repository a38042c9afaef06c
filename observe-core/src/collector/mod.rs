//! [`MetricsCollector`]: the concurrent map from operation name to its stats.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Acquire, Ordering::Release};
use std::time::{Duration, SystemTime};

use crate::engine::{
    DistinctNames, Layout, OVERFLOW_OPERATION, Operation, OperationHandle, OperationTimer, Outcome,
    ResetGate, Shared, Timed, truncate,
};
use crate::views::{OperationSnapshot, SystemSummary, percent};

mod builder;
#[cfg(feature = "prometheus")]
mod exposition;

pub use builder::MetricsCollectorBuilder;

type Map = papaya::HashMap<Box<str>, Arc<Operation>, foldhash::fast::RandomState>;

/// A thread-safe collector of per-operation stats.
///
/// A cheap [`Clone`] handle (an `Arc` inside): clones share the same stats. The first
/// use of a name creates its entry; later lookups by `&str` are O(1), lock-free and
/// allocation-free. Recording touches only atomics; reading ([`get`](Self::get),
/// [`snapshot`](Self::snapshot), [`summary`](Self::summary)) does the work.
///
/// The number of distinct names is capped (10,000 by default): past the cap, new names
/// record into one entry named [`OVERFLOW_OPERATION`] and are counted in
/// [`SystemSummary::overflowed_operations`], so a flood of names cannot grow memory
/// without bound. Names longer than the maximum length (128 bytes by default) are cut at
/// a character boundary.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use observe_core::MetricsCollector;
///
/// let collector = MetricsCollector::new();
///
/// collector.record_operation("db_query", Duration::from_millis(12), false);
/// let rows: Result<u32, &str> = collector.time("db_query", || Ok(3));
/// assert_eq!(rows, Ok(3));
///
/// let op = collector.get("db_query").unwrap();
/// assert_eq!(op.count, 2);
/// println!("{}", serde_json::to_string_pretty(&collector.snapshot()).unwrap());
/// ```
#[derive(Clone)]
pub struct MetricsCollector {
    inner: Arc<Inner>,
}

struct Inner {
    map: Map,
    /// The Prometheus registry: locked only to register metrics and to encode a scrape.
    #[cfg(feature = "prometheus")]
    registry: Mutex<prometheus_client::registry::Registry>,
    #[cfg(feature = "prometheus")]
    namespace: Box<str>,
    /// Writes the operation families by hand; `None` with a registry of the user's
    /// own, whose prefix and constant labels only `prometheus-client` applies.
    #[cfg(feature = "prometheus")]
    writer: Option<crate::prometheus::OperationsWriter>,
    /// Writes the operation families into protobuf, beside `writer`.
    #[cfg(feature = "protobuf")]
    protobuf: Option<crate::prometheus::ProtobufWriter>,
    /// Maps the fine histograms to native ones, when native export is on.
    #[cfg(feature = "prometheus")]
    native: Option<crate::prometheus::NativeMapper>,
    /// Exposition buffers that dropped responses gave back.
    #[cfg(feature = "prometheus")]
    buffers: Arc<crate::prometheus::Pool>,
    /// The vectors of the last scrape's readings, for the next one.
    #[cfg(feature = "prometheus")]
    readings_spare: Arc<crate::prometheus::Spare>,
    /// The histogram families registered on this collector, written by hand in text.
    #[cfg(feature = "prometheus")]
    families: Mutex<Vec<Arc<crate::prometheus::FamilyInner>>>,
    /// Shut while a reset runs, so that a JSON view never mixes figures from before and
    /// after one (see [`ResetGate`]). Recorders and exporters never take it.
    resets: ResetGate,
    /// Entries counted against the cap (the overflow entry excluded).
    len: AtomicUsize,
    /// Serialises the creation of entries (never taken by readers or recorders of
    /// existing entries).
    creating: Mutex<()>,
    /// Values attached by integrations, one per type.
    extensions: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    max_operations: usize,
    max_name_len: usize,
    folded: DistinctNames,
    shared: Arc<Shared>,
}

impl MetricsCollector {
    /// A collector with the default configuration.
    #[must_use]
    pub fn new() -> Self {
        Self::from_builder(MetricsCollectorBuilder::default())
    }

    /// A builder to configure a collector.
    pub fn builder() -> MetricsCollectorBuilder {
        MetricsCollectorBuilder::default()
    }

    fn from_builder(b: MetricsCollectorBuilder) -> Self {
        let start_ns = b.clock.now_ns();
        let layout = Layout::new(b.precision);
        let shared = Arc::new(Shared {
            layout,
            clock: b.clock,
            cancelled_is_error: b.cancelled_is_error,
            window_length: b.window_length,
            window_slots: b.window_slots,
            stripes: crate::engine::stripe_count(),
            spread_budget: AtomicUsize::new(b.max_striped_operations),
            start_ns,
            start_wall: SystemTime::now(),
            #[cfg(feature = "prometheus")]
            le: crate::prometheus::LeTable::new(layout, &b.prometheus.buckets),
        });
        #[cfg(feature = "prometheus")]
        let mut prometheus = b.prometheus;
        #[cfg(feature = "prometheus")]
        let writer = prometheus.registry.is_none().then(|| {
            crate::prometheus::OperationsWriter::new(&prometheus.namespace, shared.le.seconds())
        });
        #[cfg(feature = "protobuf")]
        let protobuf = prometheus.registry.is_none().then(|| {
            crate::prometheus::ProtobufWriter::new(&prometheus.namespace, shared.le.seconds())
        });
        #[cfg(feature = "prometheus")]
        let native = prometheus
            .native
            .map(|config| crate::prometheus::NativeMapper::new(config, layout));
        Self {
            inner: Arc::new_cyclic(|weak| {
                #[cfg(not(feature = "prometheus"))]
                let _ = weak;
                Inner {
                    #[cfg(feature = "prometheus")]
                    registry: Mutex::new(prometheus.take_registry(WeakCollector(weak.clone()))),
                    #[cfg(feature = "prometheus")]
                    namespace: std::mem::take(&mut prometheus.namespace).into(),
                    #[cfg(feature = "prometheus")]
                    writer,
                    #[cfg(feature = "protobuf")]
                    protobuf,
                    #[cfg(feature = "prometheus")]
                    native,
                    #[cfg(feature = "prometheus")]
                    buffers: Arc::default(),
                    #[cfg(feature = "prometheus")]
                    readings_spare: Arc::default(),
                    #[cfg(feature = "prometheus")]
                    families: Mutex::default(),
                    map: Map::with_hasher(foldhash::fast::RandomState::default()),
                    resets: ResetGate::new(),
                    len: AtomicUsize::new(0),
                    creating: Mutex::new(()),
                    extensions: Mutex::new(HashMap::new()),
                    max_operations: b.max_operations,
                    max_name_len: b.max_name_len,
                    folded: DistinctNames::new(),
                    shared,
                }
            }),
        }
    }

    /// Records one operation of `name` that took `duration` and failed or not.
    #[inline]
    pub fn record_operation(&self, name: &str, duration: Duration, failed: bool) {
        let outcome = if failed { Outcome::Error } else { Outcome::Ok };
        self.with_operation(name, |op| op.record(duration, outcome));
    }

    /// Records one operation of `name` with an explicit [`Outcome`].
    #[inline]
    pub fn record_outcome(&self, name: &str, duration: Duration, outcome: Outcome) {
        self.with_operation(name, |op| op.record(duration, outcome));
    }

    /// Records one operation of `name` that belongs to `trace`; a sampled trace is kept
    /// as an exemplar (see [`OperationHandle::record_traced`]).
    #[inline]
    pub fn record_traced(
        &self,
        name: &str,
        duration: Duration,
        outcome: Outcome,
        trace: &crate::TraceContext,
    ) {
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.with_operation(name, |op| op.record_traced(ns, outcome, trace));
    }

    /// A handle on the operation `name` (created if needed) that records without lookup.
    #[must_use]
    pub fn operation(&self, name: &str) -> OperationHandle {
        OperationHandle::new(self.with_operation(name, Arc::clone))
    }

    /// Starts a timer for the operation `name`; see [`OperationTimer`].
    pub fn start_timer(&self, name: &str) -> OperationTimer<'static> {
        OperationTimer::owning(self.with_operation(name, Arc::clone))
    }

    /// Runs `f` as the operation `name`; an `Err` counts as an error.
    ///
    /// ```
    /// # let collector = observe_core::MetricsCollector::new();
    /// let parsed: Result<i32, _> = collector.time("parse", || "12".parse::<i32>());
    /// assert_eq!(parsed, Ok(12));
    /// ```
    pub fn time<T, E>(&self, name: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let timer = self.start_timer(name);
        let result = f();
        timer.end(&result);
        result
    }

    /// Times a future returning a `Result` as the operation `name`: an `Err` counts as an
    /// error, and the future dropped before it completes counts as cancelled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let collector = observe_core::MetricsCollector::new();
    /// let user = collector
    ///     .time_async("fetch_user", async { Ok::<_, std::io::Error>("ada") })
    ///     .await;
    /// assert_eq!(user.unwrap(), "ada");
    /// # }
    /// ```
    pub fn time_async<F>(&self, name: &str, future: F) -> Timed<F> {
        Timed::new(future, self.start_timer(name))
    }

    /// The figures of the operation `name`, if it exists.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<OperationSnapshot> {
        // The overflow entry keeps its whole name, however short the names kept.
        let name = if name == OVERFLOW_OPERATION {
            name
        } else {
            truncate(name, self.inner.max_name_len)
        };
        let guard = self.inner.map.guard();
        let op = self.inner.map.get(name, &guard)?;
        let now = self.inner.shared.clock.now_ns();
        Some(self.inner.resets.read(|| op.snapshot(now)))
    }

    /// The figures of every operation, sorted by name.
    #[must_use]
    pub fn snapshot(&self) -> Vec<OperationSnapshot> {
        let now = self.inner.shared.clock.now_ns();
        let operations = self.operations();
        let mut out: Vec<_> = self
            .inner
            .resets
            .read(|| operations.iter().map(|op| op.snapshot(now)).collect());
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Calls `f` with the name, count and error count of every operation, in no
    /// particular order: counters only, without the quantiles and windows of
    /// [`snapshot`](Self::snapshot), for samplers that take differences between reads
    /// (the dashboard's history).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let collector = observe_core::MetricsCollector::new();
    /// collector.record_operation("db_query", Duration::from_millis(2), true);
    /// let mut seen = Vec::new();
    /// collector.for_each_count(|name, count, errors| seen.push((name.to_owned(), count, errors)));
    /// assert_eq!(seen, [("db_query".to_owned(), 1, 1)]);
    /// ```
    pub fn for_each_count(&self, mut f: impl FnMut(&str, u64, u64)) {
        let operations = self.operations();
        let totals: Vec<_> = self
            .inner
            .resets
            .read(|| operations.iter().map(|op| op.totals()).collect());
        for (op, totals) in operations.iter().zip(totals) {
            f(op.name(), totals.count, totals.errors);
        }
    }

    /// Totals over every operation.
    #[must_use]
    pub fn summary(&self) -> SystemSummary {
        // Counters only: no histogram walk, so a health report stays cheap.
        let operations = self.operations();
        let (totals, overflowed): (Vec<_>, _) = self.inner.resets.read(|| {
            let totals = operations.iter().map(|op| op.totals()).collect();
            (totals, self.inner.folded.estimate())
        });
        let total_operations: u64 = totals.iter().map(|t| t.count).sum();
        let total_errors: u64 = totals.iter().map(|t| t.errors).sum();
        let total_ns: u128 = totals.iter().map(|t| u128::from(t.total_ns)).sum();
        let shared = &self.inner.shared;
        SystemSummary {
            uptime: Duration::from_nanos(shared.clock.now_ns().saturating_sub(shared.start_ns)),
            total_operations,
            total_errors,
            error_rate: percent(total_errors, total_operations),
            avg_latency: if total_operations == 0 {
                Duration::ZERO
            } else {
                let nanos = total_ns / u128::from(total_operations);
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            },
            max_latency: Duration::from_nanos(totals.iter().map(|t| t.max_ns).max().unwrap_or(0)),
            monitored_operations: operations.len(),
            overflowed_operations: overflowed,
        }
    }

    /// Restarts what the JSON views show: counts, durations, quantiles, windows and the
    /// overflow estimate start again from zero. Entries and handles stay valid, and the
    /// lifetime counters behind exporters keep counting, so exported counters stay
    /// monotonic. A JSON view read meanwhile shows the figures from before the reset or
    /// after it, never some of each.
    pub fn reset(&self) {
        let operations = self.operations();
        self.inner.resets.reset(|| {
            for op in &operations {
                op.reset();
            }
            self.inner.folded.clear();
        });
    }

    /// How many distinct operations are held (the overflow entry included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether no operation was recorded yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held by all operation entries.
    #[must_use]
    pub fn memory_usage(&self) -> usize {
        self.operations().iter().map(|op| op.memory_bytes()).sum()
    }

    /// The value of type `T` attached to this collector, created by `init` on first use.
    ///
    /// Integrations keep per-collector state here, such as the metric families an HTTP
    /// layer registers once however many layers are built on the same collector. Holds a
    /// lock while `init` runs: keep it short, and do not call back into `extension`.
    ///
    /// ```
    /// # let collector = observe_core::MetricsCollector::new();
    /// #[derive(Clone)]
    /// struct Greeting(&'static str);
    /// let first = collector.extension(|| Greeting("hello"));
    /// let again = collector.extension(|| Greeting("ignored"));
    /// assert_eq!((first.0, again.0), ("hello", "hello"));
    /// ```
    pub fn extension<T>(&self, init: impl FnOnce() -> T) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        let mut extensions = self
            .inner
            .extensions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = extensions
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(init()));
        match slot.downcast_ref::<T>() {
            Some(value) => value.clone(),
            // Unreachable: the slot of `TypeId::of::<T>()` always holds a `T`.
            None => init_unreachable(),
        }
    }

    /// The longest operation name kept, in bytes.
    #[cfg(feature = "tracing")]
    pub(crate) fn max_name_len(&self) -> usize {
        self.inner.max_name_len
    }

    /// A reference to this collector that does not keep it alive.
    #[cfg(feature = "prometheus")]
    pub(crate) fn downgrade(&self) -> WeakCollector {
        WeakCollector(Arc::downgrade(&self.inner))
    }

    /// What the operations of this collector share (its clock, for exemplars).
    #[cfg(feature = "prometheus")]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Identifies this collector (its shared state) while an encode runs.
    #[cfg(feature = "prometheus")]
    pub(crate) fn address(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The exported `le` boundaries in seconds.
    #[cfg(feature = "prometheus")]
    pub(crate) fn le_seconds(&self) -> &[f64] {
        self.inner.shared.le.seconds()
    }

    /// Where a scrape's readings keep their vectors for the next one.
    #[cfg(feature = "prometheus")]
    pub(crate) fn readings_spare(&self) -> &Arc<crate::prometheus::Spare> {
        &self.inner.readings_spare
    }

    pub(crate) fn operations(&self) -> Vec<Arc<Operation>> {
        let guard = self.inner.map.guard();
        self.inner
            .map
            .iter(&guard)
            .map(|(_, op)| Arc::clone(op))
            .collect()
    }

    /// Runs `f` on the entry of `name`, creating it (or folding into the overflow entry).
    ///
    /// `f` is `Copy` (it captures a duration and an outcome, or nothing) so that a miss
    /// of the thread's cache can still run it on the map's entry.
    #[inline]
    fn with_operation<R>(&self, name: &str, f: impl FnOnce(&Arc<Operation>) -> R + Copy) -> R {
        let inner = &*self.inner;
        let name = truncate(name, inner.max_name_len);
        if let Some(out) = crate::engine::with_thread_cached(&inner.shared, name, f) {
            return out;
        }
        let guard = inner.map.guard();
        if let Some(op) = inner.map.get(name, &guard) {
            crate::engine::remember_in_thread(op);
            return f(op);
        }
        self.insert_slow(name, f)
    }

    /// Creates the entry of `name`, or folds it into the overflow entry past the cap.
    ///
    /// Entries are created under a mutex that readers never take, and the length is
    /// published after the insert, so that two threads creating the same name at the cap
    /// share the one entry instead of one of them folding into the overflow.
    #[cold]
    fn insert_slow<R>(&self, name: &str, f: impl FnOnce(&Arc<Operation>) -> R) -> R {
        let inner = &*self.inner;
        let guard = inner.map.guard();
        if inner.len.load(Acquire) < inner.max_operations {
            let _creating = inner
                .creating
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(op) = inner.map.get(name, &guard) {
                crate::engine::remember_in_thread(op);
                return f(op);
            }
            if inner.len.load(Acquire) < inner.max_operations {
                let op = Arc::new(Operation::new(name, Arc::clone(&inner.shared)));
                let op = inner.map.get_or_insert(name.into(), op, &guard);
                inner.len.fetch_add(1, Release);
                crate::engine::remember_in_thread(op);
                return f(op);
            }
        } else if let Some(op) = inner.map.get(name, &guard) {
            // Created by another thread since our first lookup.
            crate::engine::remember_in_thread(op);
            return f(op);
        }
        inner.folded.insert(name);
        let overflow = inner.map.get_or_insert_with(
            OVERFLOW_OPERATION.into(),
            || {
                Arc::new(Operation::new(
                    OVERFLOW_OPERATION,
                    Arc::clone(&inner.shared),
                ))
            },
            &guard,
        );
        f(overflow)
    }
}

#[cold]
fn init_unreachable<T>() -> T {
    unreachable!("extension slots are keyed by their type")
}

/// A weak reference to a collector, held by what the collector itself owns (its
/// Prometheus registry) so that no reference cycle keeps it alive.
#[derive(Clone, Debug)]
#[cfg(feature = "prometheus")]
pub(crate) struct WeakCollector(std::sync::Weak<Inner>);

#[cfg(feature = "prometheus")]
impl WeakCollector {
    pub(crate) fn upgrade(&self) -> Option<MetricsCollector> {
        self.0.upgrade().map(|inner| MetricsCollector { inner })
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").finish_non_exhaustive()
    }
}

impl Default for MetricsCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("operations", &self.len())
            .field("max_operations", &self.inner.max_operations)
            .finish_non_exhaustive()
    }
}
