//! Logs and spans through `tracing`: one subscriber with two layers side by side.
//!
//! - The log layer (one JSON object per line, or human-readable) has its own filter,
//!   `RUST_LOG` (default `info`): `RUST_LOG=warn` quiets the logs and nothing else.
//! - The `observe` layer records every span (the `#[instrument]`ed store and cache
//!   calls) as an operation of the collector, unfiltered. A global filter instead would
//!   drop the `INFO` spans of `#[instrument]` from the metrics as well.

use std::io::IsTerminal as _;

use observe_core::MetricsCollector;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber: the logs in `format`, and the spans as operations of
/// `collector`.
pub fn init(format: LogFormat, collector: &MetricsCollector) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => logs.json().flatten_event(true).with_ansi(false).boxed(),
        // Colours only for a person at a terminal, not in a file or a pipe.
        LogFormat::Pretty => logs.with_ansi(std::io::stderr().is_terminal()).boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(observe_core::tracing::layer(collector))
        .with(logs.with_filter(filter))
        .try_init();
    if let Err(e) = result {
        eprintln!("logging is already set up: {e}");
    }
}
