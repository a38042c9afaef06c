//! The recording engine: what a record touches, from the name or handle it arrives by to
//! the atomics it lands in.
//!
//! - [`names`] and [`thread_cache`] find an operation by name (bounded, cached per
//!   thread); [`operation`] is one operation's entry and [`OperationHandle`];
//! - [`histogram`] (the log-linear counts, in chunks), [`stripe`] (an entry spread over
//!   cores under contention), [`window`] (the recent window's checkpoints), [`exemplar`]
//!   (the latest sampled trace per bucket) and [`reset_gate`] (what keeps a view out of a
//!   reset) are its parts;
//! - [`timer`], [`trace_context`] and [`clock`] are what a recorder holds: the timer, the
//!   trace it records with, and the time source;
//! - [`sync`] swaps the atomics for `loom`'s in the model checks.
//!
//! The other stages see only what this module re-exports.

mod clock;
mod exemplar;
mod histogram;
mod names;
mod operation;
mod reset_gate;
mod stripe;
mod sync;
mod thread_cache;
mod timer;
mod trace_context;
mod window;

pub use clock::{Clock, ManualClock};
pub use names::OVERFLOW_OPERATION;
pub use operation::{OperationHandle, Outcome};
pub use timer::{OperationTimer, Timed};
pub use trace_context::TraceContext;

// For the collector and the readers of the other stages.
#[cfg(feature = "prometheus")]
pub(crate) use exemplar::{Exemplar, Exemplars};
pub(crate) use histogram::{DEFAULT_PRECISION, Layout, MAX_PRECISION, MIN_PRECISION};
pub(crate) use names::{DistinctNames, truncate};
#[cfg(feature = "tracing")]
pub(crate) use operation::EventLevel;
#[cfg(feature = "prometheus")]
pub(crate) use operation::{Lifetime, MAX_RECORDED_NS};
pub(crate) use operation::{Operation, Shared};
pub(crate) use reset_gate::ResetGate;
pub(crate) use stripe::stripe_count;
pub(crate) use thread_cache::{remember as remember_in_thread, with as with_thread_cached};
#[cfg(feature = "tracing")]
pub(crate) use timer::precise;
