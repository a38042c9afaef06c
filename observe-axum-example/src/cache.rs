//! The category cache: Redis when configured, in process otherwise. A cache that fails
//! is a miss, never an error of the request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use observe_core::MetricsCollector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long an entry lives.
const TTL: Duration = Duration::from_secs(300);
/// How long a cache command may take before it counts as a miss.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(300);
/// The most entries the in-process cache holds; it starts over past that.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

/// A string cache with hit and miss counters.
///
/// Its commands are `#[instrument]`ed: the `tracing` layer of `observe-core` records them
/// as the operations `cache_get` and `cache_set`, with their errors and timeouts.
#[derive(Debug)]
pub struct Cache {
    backend: Backend,
    requests: Family<CacheLabels, Counter>,
}

enum Backend {
    InProcess(Mutex<HashMap<String, (String, Instant)>>),
    Redis(ConnectionManager),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::InProcess(_) => "InProcess",
            Self::Redis(_) => "Redis",
        })
    }
}

impl Cache {
    /// An in-process cache.
    #[must_use]
    pub fn in_process(collector: &MetricsCollector) -> Self {
        Self::with_backend(collector, Backend::InProcess(Mutex::default()))
    }

    /// A cache on the Redis at `url`; connects lazily and reconnects by itself.
    ///
    /// # Errors
    ///
    /// When `url` is not a Redis URL.
    pub fn redis(collector: &MetricsCollector, url: &str) -> redis::RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)?;
        Ok(Self::with_backend(collector, Backend::Redis(manager)))
    }

    fn with_backend(collector: &MetricsCollector, backend: Backend) -> Self {
        let requests = Family::<CacheLabels, Counter>::default();
        collector.register_metric(
            format!("{}_cache_requests", collector.namespace()),
            "Cache lookups, by cache and result (hit or miss)",
            requests.clone(),
        );
        Self { backend, requests }
    }

    /// `redis` or `in_process`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::InProcess(_) => "in_process",
            Backend::Redis(_) => "redis",
        }
    }

    /// The value under `key`, if cached; a failing cache is a miss.
    pub async fn get(&self, cache: &'static str, key: &str) -> Option<String> {
        // A failure was logged (at DEBUG) and counted as an error of `cache_get`.
        let value = self.fetch(key).await.unwrap_or_default();
        let result = if value.is_some() { "hit" } else { "miss" };
        self.requests
            .get_or_create(&CacheLabels { cache, result })
            .inc();
        value
    }

    /// `GET key`. `ret` lets the layer tell a command dropped by a timeout from one that
    /// returned; both events are below the default log level.
    #[tracing::instrument(
        name = "cache_get",
        skip_all,
        err(level = "debug"),
        ret(level = "trace")
    )]
    async fn fetch(&self, key: &str) -> Result<Option<String>, String> {
        match &self.backend {
            Backend::InProcess(map) => {
                let map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Ok(map
                    .get(key)
                    .filter(|(_, at)| at.elapsed() < TTL)
                    .map(|(v, _)| v.clone()))
            }
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                match tokio::time::timeout(COMMAND_TIMEOUT, conn.get::<_, Option<String>>(key))
                    .await
                {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                }
            }
        }
    }

    /// Caches `value` under `key`; a failing cache is logged (at DEBUG) and counted as an
    /// error of `cache_set`, never an error of the request.
    #[tracing::instrument(
        name = "cache_set",
        skip_all,
        err(level = "debug"),
        ret(level = "trace")
    )]
    pub async fn set(&self, key: &str, value: &str) -> Result<(), String> {
        match &self.backend {
            Backend::InProcess(map) => {
                let mut map = map
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
                map.insert(key.to_owned(), (value.to_owned(), Instant::now()));
                Ok(())
            }
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                let set = conn.set_ex::<_, _, ()>(key, value, TTL.as_secs());
                match tokio::time::timeout(COMMAND_TIMEOUT, set).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                }
            }
        }
    }
}
