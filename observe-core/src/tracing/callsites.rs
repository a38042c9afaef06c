//! What the layer decides once per callsite: which operation a span callsite records
//! into and which of its fields matter, and what an event callsite means.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use ::tracing::callsite::Identifier;
use ::tracing::field::Field;
use ::tracing::{Level, Metadata};

use crate::collector::MetricsCollector;
use crate::engine::Operation;

/// The name of the field that overrides a span's operation name, as in
/// `tracing-opentelemetry`.
pub(super) const OTEL_NAME: &str = "otel.name";
/// The field that sets a span's status, as in `tracing-opentelemetry`.
pub(super) const OTEL_STATUS: &str = "otel.status_code";
/// The field `#[instrument(err)]` writes, and that a span may declare and record.
pub(super) const ERROR: &str = "error";
/// The field `#[instrument(ret)]` writes.
const RETURN: &str = "return";
/// The field of a log message.
const MESSAGE: &str = "message";

/// The suffix of the operation that receives a span's busy time.
pub(crate) const BUSY_SUFFIX: &str = ".busy";

/// A span callsite: its operations and the fields of it that are read.
///
/// The operations are looked up on the first span that records into them, not when the
/// callsite is registered: a callsite whose spans all carry `otel.name`, or that never
/// closes a span, leaves no empty operation behind.
#[derive(Debug)]
pub(super) struct SpanSite {
    metadata: &'static Metadata<'static>,
    op: OnceLock<Arc<Operation>>,
    /// The operation of the busy time, when the layer keeps it.
    busy: OnceLock<Arc<Operation>>,
    pub(super) otel_name: Option<Field>,
    pub(super) status: Option<Field>,
    pub(super) error: Option<Field>,
    /// Whether a span of this callsite has seen a `return` event, so that it is known
    /// to be instrumented with `ret`: its spans that close with neither a `return` nor an
    /// `error` event were dropped before they finished.
    pub(super) returns: AtomicBool,
}

impl SpanSite {
    /// The operation of this callsite's spans.
    #[inline]
    pub(super) fn op(&self, callsites: &Callsites) -> &Arc<Operation> {
        self.op.get_or_init(|| {
            let metadata = self.metadata;
            let op = if callsites.target_names {
                let name = format!("{}::{}", metadata.target(), metadata.name());
                callsites.collector.operation(&name)
            } else {
                callsites.collector.operation(metadata.name())
            };
            op.into_operation()
        })
    }

    /// The operation of the busy time of this callsite's spans.
    #[inline]
    pub(super) fn busy(&self, callsites: &Callsites) -> &Arc<Operation> {
        self.busy
            .get_or_init(|| callsites.busy_operation(self.op(callsites).name()))
    }

    /// Whether a span of this callsite has fields the layer reads when they are recorded.
    pub(super) fn reads_fields(&self) -> bool {
        self.otel_name.is_some() || self.status.is_some() || self.error.is_some()
    }
}

/// What an event of a callsite means for the span it happens in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct EventSite {
    /// An `error` field without a `message`: what `#[instrument(err)]` emits.
    pub(super) error: bool,
    /// A `return` field without a `message`: what `#[instrument(ret)]` emits.
    pub(super) returns: bool,
    pub(super) level: EventKind,
}

/// The level of an event, as far as the layer counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum EventKind {
    /// Below `WARN`: not counted.
    #[default]
    Quiet,
    Warn,
    Error,
}

impl EventSite {
    fn of(metadata: &Metadata<'_>) -> Self {
        let fields = metadata.fields();
        let message = fields.field(MESSAGE).is_some();
        let level = match *metadata.level() {
            Level::ERROR => EventKind::Error,
            Level::WARN => EventKind::Warn,
            _ => EventKind::Quiet,
        };
        Self {
            error: !message && fields.field(ERROR).is_some(),
            returns: !message && fields.field(RETURN).is_some(),
            level,
        }
    }

    /// Whether events of this callsite change anything.
    pub(super) fn matters(self) -> bool {
        self.error || self.returns || self.level != EventKind::Quiet
    }
}

#[derive(Debug)]
enum Site {
    Span(SpanSite),
    Event(EventSite),
}

type Map = papaya::HashMap<Identifier, Site, foldhash::fast::RandomState>;

/// The decisions of every callsite the layer has seen, looked up by the callsite's
/// identity (a pointer), never by name.
#[derive(Debug)]
pub(super) struct Callsites {
    map: Map,
    collector: MetricsCollector,
    target_names: bool,
    /// Event callsites below `WARN` whose events matter (`err(level = "info")`, `ret`):
    /// while there are none, such events are passed over without a lookup.
    quiet_that_matter: AtomicUsize,
}

impl Callsites {
    pub(super) fn new(collector: MetricsCollector, target_names: bool) -> Self {
        Self {
            map: Map::with_hasher(foldhash::fast::RandomState::default()),
            collector,
            target_names,
            quiet_that_matter: AtomicUsize::new(0),
        }
    }

    pub(super) fn collector(&self) -> &MetricsCollector {
        &self.collector
    }

    /// Decides for `metadata` once; called from `register_callsite` and, for a
    /// callsite that was never registered with this layer, on first use.
    pub(super) fn register(&self, metadata: &'static Metadata<'static>) {
        let map = self.map.pin();
        if map.contains_key(&metadata.callsite()) {
            return;
        }
        let site = if metadata.is_span() {
            Site::Span(Self::span_site(metadata))
        } else {
            let site = EventSite::of(metadata);
            if site.level == EventKind::Quiet && site.matters() {
                self.quiet_that_matter.fetch_add(1, Relaxed);
            }
            Site::Event(site)
        };
        // A lost race inserts nothing: the first decision stands, and the counter above
        // can only over-count, which costs lookups, never a missed event.
        let _ = map.try_insert(metadata.callsite(), site);
    }

    fn span_site(metadata: &'static Metadata<'static>) -> SpanSite {
        let fields = metadata.fields();
        SpanSite {
            metadata,
            op: OnceLock::new(),
            busy: OnceLock::new(),
            otel_name: fields.field(OTEL_NAME),
            status: fields.field(OTEL_STATUS),
            error: fields.field(ERROR),
            returns: AtomicBool::new(false),
        }
    }

    /// The operation of the busy time of operation `name`.
    /// Built on the stack for names of usual length: a renamed span resolves it per span.
    pub(super) fn busy_operation(&self, name: &str) -> Arc<Operation> {
        // Cut first, so that the suffix survives the collector's cut.
        let keep = self
            .collector
            .max_name_len()
            .saturating_sub(BUSY_SUFFIX.len());
        let name = crate::engine::truncate(name, keep);
        let mut buffer = [0u8; 256];
        let len = name.len() + BUSY_SUFFIX.len();
        if let Some(out) = buffer.get_mut(..len) {
            out[..name.len()].copy_from_slice(name.as_bytes());
            out[name.len()..].copy_from_slice(BUSY_SUFFIX.as_bytes());
            if let Ok(busy) = std::str::from_utf8(out) {
                return self.collector.operation(busy).into_operation();
            }
        }
        let busy = format!("{name}{BUSY_SUFFIX}");
        self.collector.operation(&busy).into_operation()
    }

    /// Runs `f` on the decisions of span callsite `metadata`.
    #[inline]
    pub(super) fn with_span<R>(
        &self,
        metadata: &'static Metadata<'static>,
        f: impl FnOnce(&SpanSite) -> R,
    ) -> Option<R> {
        let id = metadata.callsite();
        let map = self.map.pin();
        match map.get(&id) {
            Some(Site::Span(site)) => Some(f(site)),
            Some(Site::Event(_)) => None,
            None => {
                drop(map);
                self.register(metadata);
                match self.map.pin().get(&id) {
                    Some(Site::Span(site)) => Some(f(site)),
                    _ => None,
                }
            }
        }
    }

    /// The meaning of event callsite `metadata`, or `None` when its events change
    /// nothing (decided without a lookup for most events below `WARN`).
    #[inline]
    pub(super) fn event(&self, metadata: &'static Metadata<'static>) -> Option<EventSite> {
        if *metadata.level() > Level::WARN && self.quiet_that_matter.load(Relaxed) == 0 {
            return None;
        }
        let id = metadata.callsite();
        let found = match self.map.pin().get(&id) {
            Some(Site::Event(site)) => Some(*site),
            Some(Site::Span(_)) => None,
            None => Some(EventSite::of(metadata)),
        };
        found.filter(|site| site.matters())
    }
}
