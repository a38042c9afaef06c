//! Helpers shared by the fuzz targets of observe: the text form of a request that the
//! seeds are written in, a runtime, and checks every answer must pass.

#![forbid(unsafe_code)]

pub mod monitoring;
pub mod reply;
pub mod request;

use std::sync::OnceLock;

/// A Tokio runtime with one worker thread, built once per process: each input is
/// driven with `block_on`, while what the service spawns (health refreshes) runs on the
/// worker, as it would in a server. (On a current-thread runtime, a request answered
/// without ever yielding would starve those tasks.)
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime: {e}"))
    })
}
