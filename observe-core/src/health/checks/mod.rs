//! The built-in checks. Each optional integration sits behind its cargo feature.

#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod database;
mod error_rate;
mod latency;
#[cfg(feature = "redis")]
mod redis;
mod runtime;
#[cfg(feature = "system")]
mod system;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "sqlite"))))]
pub use database::DatabaseCheck;
pub use error_rate::ErrorRateCheck;
pub use latency::LatencyCheck;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisCheck;
pub use runtime::RuntimeCheck;
#[cfg(feature = "system")]
#[cfg_attr(docsrs, doc(cfg(feature = "system")))]
pub use system::{SystemCheck, SystemThresholds};

/// The snapshots of the operations named, or of every operation when none is named.
pub(crate) fn chosen(
    collector: &crate::MetricsCollector,
    names: &[String],
) -> Vec<crate::OperationSnapshot> {
    if names.is_empty() {
        collector.snapshot()
    } else {
        names
            .iter()
            .filter_map(|name| collector.get(name))
            .collect()
    }
}

/// Milliseconds as a float, to the microsecond, for details.
pub(crate) fn ms(d: std::time::Duration) -> f64 {
    crate::views::millis(d)
}
