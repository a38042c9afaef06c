//! [`RedisCheck`]: `PING` and `INFO` through a reconnecting Redis connection.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::ms;
use crate::health::{BoxFuture, CheckResult, HealthCheck};

/// `PING` with its latency, and from `INFO` the server version, connected clients and
/// used memory, through the `redis` crate's [`ConnectionManager`], which reconnects by
/// itself when Redis comes back.
///
/// Unhealthy when Redis cannot be reached; degraded when `PING` is slower than a
/// threshold (default 100 ms). Register it as not critical when the service works
/// without its cache.
///
/// ```no_run
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use observe_core::health::{CheckOptions, HealthRegistry, RedisCheck};
///
/// let registry = HealthRegistry::builder()
///     .check_with(RedisCheck::from_url("redis://127.0.0.1:6379")?, CheckOptions::new().critical(false))
///     .build()?;
/// # let _ = registry; Ok(()) }
/// ```
pub struct RedisCheck {
    name: String,
    client: Option<redis::Client>,
    manager: OnceCell<ConnectionManager>,
    slow: Duration,
    /// The password of the URL, masked in every result.
    secret: Option<String>,
}

impl std::fmt::Debug for RedisCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCheck")
            .field("name", &self.name)
            .field("slow", &self.slow)
            .finish_non_exhaustive()
    }
}

impl RedisCheck {
    /// A check named `redis` of the server at `url` (`redis://[user:password@]host[:port][/db]`).
    /// Connects on the first check, not here.
    ///
    /// # Errors
    ///
    /// When `url` is not a valid Redis URL.
    pub fn from_url(url: &str) -> redis::RedisResult<Self> {
        let mut check = Self::new(redis::Client::open(url)?);
        check.secret = crate::health::redact::url_password(url);
        Ok(check)
    }

    /// A check named `redis` of `client`'s server. Connects on the first check.
    #[must_use]
    pub fn new(client: redis::Client) -> Self {
        Self {
            name: "redis".to_owned(),
            client: Some(client),
            manager: OnceCell::new(),
            slow: Duration::from_millis(100),
            secret: None,
        }
    }

    /// A check named `redis` sharing a connection manager of yours.
    #[must_use]
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self {
            name: "redis".to_owned(),
            client: None,
            manager: OnceCell::new_with(Some(manager)),
            slow: Duration::from_millis(100),
            secret: None,
        }
    }

    /// Renames the check.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Degraded when `PING` takes longer than `slow` (default 100 ms).
    #[must_use]
    pub fn slow_threshold(mut self, slow: Duration) -> Self {
        self.slow = slow;
        self
    }

    async fn manager(&self) -> redis::RedisResult<ConnectionManager> {
        self.manager
            .get_or_try_init(|| async {
                let client = self.client.clone().ok_or_else(|| {
                    redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "no Redis client configured",
                    ))
                })?;
                // Fail fast: one check must not spend its whole timeout on retries.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(client, config)
            })
            .await
            .cloned()
    }

    async fn evaluate(&self) -> CheckResult {
        let mut conn = match self.manager().await {
            Ok(conn) => conn,
            Err(e) => return CheckResult::unhealthy(format!("cannot reach Redis: {e}")),
        };
        let started = Instant::now();
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        let elapsed = started.elapsed();
        if let Err(e) = pong {
            return CheckResult::unhealthy(format!("cannot reach Redis: {e}"));
        }
        let mut result = if elapsed > self.slow {
            CheckResult::degraded(format!(
                "PING took {} ms (limit {} ms)",
                ms(elapsed),
                ms(self.slow)
            ))
        } else {
            CheckResult::healthy()
        }
        .with_detail("ping_ms", ms(elapsed));
        let info: redis::RedisResult<String> = redis::cmd("INFO").query_async(&mut conn).await;
        if let Ok(info) = info {
            for line in info.lines() {
                let Some((key, value)) = line.trim().split_once(':') else {
                    continue;
                };
                match key {
                    "redis_version" => result = result.with_detail("version", value),
                    "connected_clients" | "used_memory" => {
                        if let Ok(n) = value.parse::<u64>() {
                            let key = if key == "used_memory" {
                                "used_memory_bytes"
                            } else {
                                key
                            };
                            result = result.with_detail(key, n);
                        }
                    }
                    _ => {}
                }
            }
        }
        result
    }
}

impl HealthCheck for RedisCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(async move {
            let mut result = self.evaluate().await;
            if let Some(secret) = &self.secret {
                crate::health::redact::redact_result(&mut result, std::slice::from_ref(secret));
            }
            result
        })
    }

    fn component_type(&self) -> &'static str {
        "datastore"
    }
}
