//! What the collector reads back for people: snapshots of operations and of the process,
//! as Rust values and as JSON. The Prometheus exposition is the other reader, in
//! [`prometheus`](crate::prometheus).

mod process;
mod report;

pub use process::ProcessStats;
pub use report::{
    ExemplarSnapshot, OperationSnapshot, RecentSnapshot, SystemSummary, human_duration,
};

pub(crate) use report::percent;
// Formatting shared with the health report's JSON.
#[cfg(feature = "health")]
pub(crate) use report::{millis, rfc3339};
