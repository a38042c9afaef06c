//! The OpenTelemetry context of a span, as `tracing-opentelemetry` makes it current.
//!
//! `tracing-opentelemetry` attaches a span's context when the span is entered and
//! detaches it when the span is exited. Layers see those callbacks inner layer first, so
//! which of the two the observe layer sees depends on the order of the layers:
//!
//! - `registry().with(otel).with(observe)`: on enter, otel has attached the span's own
//!   context; on exit it has already detached it (and on close its data is gone);
//! - `registry().with(observe).with(otel)`: on enter, the context is still the one
//!   around the span; on exit, still the span's own.
//!
//! So the layer looks on both, and keeps the first context it sees that is not the one
//! that was current when the span was created (its parent's, or none): that is the
//! span's own, in either order.

use opentelemetry::trace::TraceContextExt as _;

use crate::engine::TraceContext;

/// The current OpenTelemetry span's ids, if it has valid ones. Reads the thread's
/// context in place: no clone, no allocation.
#[inline]
pub(super) fn current() -> Option<TraceContext> {
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let context = span.span_context();
        if !context.is_valid() {
            return None;
        }
        TraceContext::new(
            u128::from_be_bytes(context.trace_id().to_bytes()),
            u64::from_be_bytes(context.span_id().to_bytes()),
            context.is_sampled(),
        )
    })
}
