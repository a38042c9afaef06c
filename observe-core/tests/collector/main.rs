//! Integration tests of the metrics engine: the collector, timers, histograms and windows.

mod concurrency;
mod json;
mod names;
mod quantiles;
mod reset;
mod timers;
mod window;
