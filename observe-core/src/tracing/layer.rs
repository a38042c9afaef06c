//! [`OperationsLayer`]: the `tracing-subscriber` layer that records closing spans as
//! operations.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::subscriber::Interest;
use ::tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::callsites::{Callsites, EventKind, SpanSite};
use super::span_state::{SpanState, SpanStates};
use crate::collector::MetricsCollector;
use crate::engine::{EventLevel, Operation, Outcome};

/// A [`Layer`] that records every span it sees as one operation of a
/// [`MetricsCollector`] when the span closes. Made by [`layer`](super::layer); see the
/// [module docs](super) for the rules.
///
/// Clones share their decisions and their collector.
#[derive(Clone, Debug)]
#[must_use = "a layer does nothing until it is added to a subscriber"]
pub struct OperationsLayer {
    callsites: Arc<Callsites>,
    busy: bool,
    error_level_is_error: bool,
    /// Whether spans look for their OpenTelemetry ids.
    trace_ids: bool,
}

impl OperationsLayer {
    pub(super) fn new(collector: &MetricsCollector) -> Self {
        super::events::register(collector);
        Self {
            callsites: Arc::new(Callsites::new(collector.clone(), false)),
            busy: false,
            error_level_is_error: false,
            trace_ids: cfg!(feature = "opentelemetry"),
        }
    }

    /// Names operations `target::name` (for `#[instrument]`, the module path and the
    /// function) instead of the span's name alone (default off).
    pub fn with_target_names(mut self, yes: bool) -> Self {
        self.callsites = Arc::new(Callsites::new(self.callsites.collector().clone(), yes));
        self
    }

    /// Also keeps each span's busy time, the time it was actually entered (summed over
    /// the polls of an async span), as a second operation named `<operation>.busy`
    /// beside the wall time's (default off; off, it costs nothing).
    pub fn with_busy_time(mut self, yes: bool) -> Self {
        self.busy = yes;
        self
    }

    /// Whether to read each span's OpenTelemetry trace and span ids, from its creation to
    /// its first exit, and keep sampled ones as exemplars (default on; off, the layer
    /// touches no OpenTelemetry context).
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn with_opentelemetry_ids(mut self, yes: bool) -> Self {
        self.trace_ids = yes;
        self
    }

    /// Counts a span as failed when any `ERROR`-level event happens inside it, not only
    /// the `error` events of `#[instrument(err)]` (default off).
    pub fn with_error_events_as_errors(mut self, yes: bool) -> Self {
        self.error_level_is_error = yes;
        self
    }

    /// This layer's identity among the observe layers of one subscriber.
    #[inline]
    fn owner(&self) -> usize {
        Arc::as_ptr(&self.callsites) as usize
    }

    /// Runs `f` on this layer's state of `span`, if it has one.
    #[inline]
    fn with_state<S, R>(&self, span: &SpanRef<'_, S>, f: impl FnOnce(&SpanState) -> R) -> Option<R>
    where
        S: for<'a> LookupSpan<'a>,
    {
        let extensions = span.extensions();
        let state = extensions.get::<SpanStates>()?.get(self.owner())?;
        Some(f(state))
    }

    /// Whether entering a span can tell its state anything when busy time is off: only
    /// its OpenTelemetry context, and only when one is current (the span's own, with
    /// the OpenTelemetry layer inside this one). Without one, an enter costs no lookup:
    /// a span polled many times pays for its state on exits only.
    #[inline]
    fn learns_on_enter(&self) -> bool {
        #[cfg(feature = "opentelemetry")]
        return self.trace_ids && super::otel::current().is_some();
        #[cfg(not(feature = "opentelemetry"))]
        return false;
    }

    /// The operation a span records into, and whether its callsite is known to return.
    fn operations<S>(&self, span: &SpanRef<'_, S>) -> Option<(Arc<Operation>, bool)>
    where
        S: for<'a> LookupSpan<'a>,
    {
        let renamed = self
            .with_state(span, |state| state.renamed.clone())
            .flatten();
        self.callsites.with_span(span.metadata(), |site| {
            let returns = site.returns.load(Relaxed);
            let op = renamed.unwrap_or_else(|| Arc::clone(site.op(&self.callsites)));
            (op, returns)
        })
    }
}

impl<S> Layer<S> for OperationsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.callsites.register(metadata);
        // Never `never`: that would hide the callsite from every other layer too.
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut state = SpanState::new(self.busy, self.trace_ids);
        let renamed = self.callsites.with_span(attrs.metadata(), |site| {
            if !site.reads_fields() {
                return None;
            }
            let mut visitor = FieldVisitor::new(site, &state, Some(self.callsites.collector()));
            attrs.record(&mut visitor);
            visitor.renamed
        });
        state.renamed = renamed.flatten();
        let mut extensions = span.extensions_mut();
        // A second observe layer on the same subscriber (another collector) adds its
        // state beside the first's: extensions hold one value per type.
        match extensions.get_mut::<SpanStates>() {
            Some(states) => states.push(self.owner(), state),
            None => extensions.insert(SpanStates::new(self.owner(), state)),
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        self.with_state(&span, |state| {
            self.callsites.with_span(span.metadata(), |site| {
                if site.status.is_some() || site.error.is_some() {
                    // `otel.name` counts only when the span is created.
                    values.record(&mut FieldVisitor::new(site, state, None));
                }
            })
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(kind) = self.callsites.event(event.metadata()) else {
            return;
        };
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let seen = self.with_state(&span, |state| {
            if kind.error {
                state.error_event();
            }
            if kind.returns {
                state.returned();
            }
            if kind.level == EventKind::Error {
                state.error_level();
            }
        });
        if seen.is_none() {
            return;
        }
        if kind.returns {
            self.callsites.with_span(span.metadata(), |site| {
                if !site.returns.load(Relaxed) {
                    site.returns.store(true, Relaxed);
                }
            });
        }
        let level = match kind.level {
            EventKind::Quiet => return,
            EventKind::Warn => EventLevel::Warn,
            EventKind::Error => EventLevel::Error,
        };
        if let Some((op, _)) = self.operations(&span) {
            op.count_event(level);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.busy && !self.learns_on_enter() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            self.with_state(&span, SpanState::enter);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            self.with_state(&span, SpanState::exit);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let extensions = span.extensions();
        let Some(state) = extensions
            .get::<SpanStates>()
            .and_then(|states| states.get(self.owner()))
        else {
            return;
        };
        let (wall, busy) = state.close();
        let error_level_is_error = self.error_level_is_error;
        let trace = state.trace();
        let record = |op: &Operation, ns: u64, outcome: Outcome| match trace {
            Some(trace) => op.record_traced(ns, outcome, trace),
            None => op.record_ns(ns, outcome),
        };
        let record = |site: &SpanSite| {
            let outcome = state.outcome(site.returns.load(Relaxed), error_level_is_error);
            match &state.renamed {
                Some(op) => {
                    record(op, wall, outcome);
                    if let Some(busy) = busy {
                        record(&self.callsites.busy_operation(op.name()), busy, outcome);
                    }
                }
                None => {
                    record(site.op(&self.callsites), wall, outcome);
                    if let Some(busy) = busy {
                        record(site.busy(&self.callsites), busy, outcome);
                    }
                }
            }
        };
        self.callsites.with_span(span.metadata(), record);
    }
}

/// Reads the fields of a span that the layer cares about.
struct FieldVisitor<'a> {
    site: &'a SpanSite,
    state: &'a SpanState,
    /// The collector to look `otel.name` up in, when the span is being created (the
    /// only time the name counts).
    rename: Option<&'a MetricsCollector>,
    renamed: Option<Arc<Operation>>,
}

impl<'a> FieldVisitor<'a> {
    fn new(site: &'a SpanSite, state: &'a SpanState, rename: Option<&'a MetricsCollector>) -> Self {
        Self {
            site,
            state,
            rename,
            renamed: None,
        }
    }

    fn text(&mut self, field: &Field, value: &str) {
        if Some(field) == self.site.otel_name.as_ref() {
            if let Some(collector) = self.rename {
                // Looked up as `record_operation` does: no allocation for a known name.
                self.renamed = Some(collector.operation(value).into_operation());
            }
        } else if Some(field) == self.site.status.as_ref() {
            self.state.status(value);
        } else if Some(field) == self.site.error.as_ref() {
            self.state.error_field();
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        // `error = false` says there was none.
        if Some(field) == self.site.error.as_ref() {
            if value {
                self.state.error_field();
            }
        } else {
            self.text(field, if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let interesting = [&self.site.otel_name, &self.site.status, &self.site.error]
            .into_iter()
            .any(|f| f.as_ref() == Some(field));
        if !interesting {
            return;
        }
        // Formatted on the stack: a status or a name is short, and a longer name is cut
        // by the collector anyway.
        let mut buffer = StackText::default();
        let _ = write!(buffer, "{value:?}");
        let text = buffer.as_str();
        // A `%value` comes as Debug of a Display wrapper: no quotes. A `?"text"` has them.
        let text = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        self.text(field, text);
    }
}

/// A string of at most 256 bytes, on the stack; what does not fit is dropped at a
/// character boundary.
struct StackText {
    bytes: [u8; 256],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let part = crate::engine::truncate(s, room);
        self.bytes[self.len..self.len + part.len()].copy_from_slice(part.as_bytes());
        self.len += part.len();
        Ok(())
    }
}
