//! The span workloads and the hand-written peer layer shared by `benches/tracing.rs`
//! (criterion, nanoseconds) and `examples/span_costs.rs` (callgrind, instructions), so
//! that both measure the same thing.

use std::future::Future;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Subscriber;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

/// A span-latency layer as services write it by hand: a start time in the extensions,
/// and a histogram looked up by the span's name on close.
pub(crate) struct HandWritten {
    histogram: prometheus::HistogramVec,
}

impl HandWritten {
    pub(crate) fn new() -> Self {
        let opts = prometheus::HistogramOpts::new("span_duration_seconds", "Span durations");
        let histogram = prometheus::HistogramVec::new(opts, &["span"]).expect("a valid histogram");
        Self { histogram }
    }
}

impl<S> Layer<S> for HandWritten
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: LayerContext<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Instant::now());
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: LayerContext<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(start) = span.extensions().get::<Instant>()
        {
            self.histogram
                .with_label_values(&[span.name()])
                .observe(start.elapsed().as_secs_f64());
        }
    }
}

/// A future that is ready on its tenth poll.
pub(crate) struct TenPolls(pub(crate) u8);

impl Future for TenPolls {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0 += 1;
        if self.0 == 10 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
