//! Helpers shared by the fuzz targets of observe: the text form of a request that the
//! seeds are written in, a runtime, and checks every answer must pass.

#![forbid(unsafe_code)]

pub mod monitoring;
pub mod reply;
pub mod request;

use std::sync::OnceLock;

/// A current-thread Tokio runtime, built once per process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime: {e}"))
    })
}
