//! Errors of observe-core.

use std::time::Duration;

/// A collector or registry configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The cap on distinct operation names must allow at least one name.
    #[error("the cap on distinct operation names must be at least 1")]
    ZeroOperationCap,
    /// The maximum name length must be at least one byte.
    #[error("the maximum operation name length must be at least 1 byte")]
    ZeroNameLength,
    /// The histogram precision is outside the supported range.
    #[error("histogram precision must be between {min} and {max} significant bits, got {got}")]
    Precision {
        /// The precision asked for.
        got: u8,
        /// The lowest supported precision.
        min: u8,
        /// The highest supported precision.
        max: u8,
    },
    /// The recent window cannot be split as asked.
    #[error(
        "a recent window of {length:?} cannot hold {slots} slots (1 to 3600 slots of at least 1 ms each)"
    )]
    Window {
        /// The window length asked for.
        length: Duration,
        /// The slot count asked for.
        slots: usize,
    },
    /// The Prometheus namespace breaks the naming rules.
    #[error("invalid Prometheus namespace {namespace:?}: {reason}")]
    Namespace {
        /// The namespace asked for.
        namespace: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The histogram buckets are not valid.
    #[error("invalid Prometheus buckets: {reason}")]
    Buckets {
        /// What is wrong with them.
        reason: String,
    },
    /// The native histogram schema is outside what Prometheus accepts.
    #[error("invalid native histogram schema {got}: Prometheus accepts {min} to {max} here")]
    NativeSchema {
        /// The schema asked for.
        got: i8,
        /// The lowest schema accepted.
        min: i8,
        /// The highest schema accepted.
        max: i8,
    },
    /// The zero threshold of native histograms must be finite and positive.
    #[error("the native histogram zero threshold must be finite and positive, got {got}")]
    NativeZeroThreshold {
        /// The threshold asked for, as written.
        got: String,
    },
    /// A histogram family's name or labels break the Prometheus naming rules, or its
    /// name is taken.
    #[error("invalid histogram family {name:?}: {reason}")]
    Family {
        /// The family's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two or more health checks share a name.
    #[error("health check names must be unique; registered more than once: {}", names.join(", "))]
    DuplicateCheck {
        /// The names registered more than once.
        names: Vec<String>,
    },
}
