//! [`DatabaseCheck`]: a round trip through a `sqlx` pool, and the pool's usage.

use std::time::{Duration, Instant};

use sqlx::Connection as _;

use super::ms;
use crate::health::{BoxFuture, CheckResult, HealthCheck, PoolStats};

/// A round trip to the database through a `sqlx` pool (PostgreSQL with the `postgres`
/// feature, SQLite with `sqlite`), with the pool's connection counts.
///
/// Unhealthy when the database cannot be reached; degraded when the pool is saturated
/// (every connection open and in use: the round trip then goes over a connection of
/// the check's own, opened and closed for it, so that the check neither queues behind
/// the traffic it watches nor mistakes a pool stuck on a lost database for a busy one)
/// or the round trip is slower than a threshold (default 200 ms). Details: `ping_ms`,
/// `open_connections`, `idle_connections`, `in_use_connections`, `max_connections`;
/// the counts are also exported as `ns_db_pool_connections` and
/// `ns_db_pool_max_connections`, with the check's name as the `pool` label.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use observe_core::health::{CheckOptions, DatabaseCheck, HealthRegistry};
///
/// let pool = sqlx::PgPool::connect_lazy("postgres://app@127.0.0.1/app")?;
/// let registry = HealthRegistry::builder()
///     .check_with(DatabaseCheck::postgres(pool), CheckOptions::new().ready())
///     .build()?;
/// # let _ = registry; Ok(()) }
/// ```
#[derive(Debug)]
pub struct DatabaseCheck {
    name: String,
    pool: Pool,
    slow: Duration,
}

#[derive(Debug)]
enum Pool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

impl DatabaseCheck {
    /// A check named `database` of a PostgreSQL pool.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    #[must_use]
    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Self::with_pool(Pool::Postgres(pool))
    }

    /// A check named `database` of an SQLite pool.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    #[must_use]
    pub fn sqlite(pool: sqlx::SqlitePool) -> Self {
        Self::with_pool(Pool::Sqlite(pool))
    }

    fn with_pool(pool: Pool) -> Self {
        Self {
            name: "database".to_owned(),
            pool,
            slow: Duration::from_millis(200),
        }
    }

    /// Renames the check (and the `pool` label of its gauges).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Degraded when the round trip takes longer than `slow` (default 200 ms).
    #[must_use]
    pub fn slow_threshold(mut self, slow: Duration) -> Self {
        self.slow = slow;
        self
    }

    async fn evaluate(&self) -> CheckResult {
        match &self.pool {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => probe(pool, self.slow).await,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => probe(pool, self.slow).await,
        }
    }
}

fn stats<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolStats {
    let open = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(open);
    PoolStats::new(idle, open - idle, pool.options().get_max_connections())
}

async fn probe<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, slow: Duration) -> CheckResult {
    if pool.is_closed() {
        return CheckResult::unhealthy("the pool is closed").with_pool(stats(pool));
    }
    let before = stats(pool);
    if before.is_saturated() {
        // Every connection is out: busy with the traffic, or stuck on a database that
        // went away (a pool counts the connections it is still opening as in use). A
        // connection of the check's own tells which, without queueing behind the
        // traffic; a saturated pool must not hide an outage.
        let saturated = format!(
            "the pool is saturated: all {} connections are in use",
            before.max
        );
        return match own_round_trip(pool).await {
            Ok(()) => CheckResult::degraded(saturated),
            Err(e) => {
                CheckResult::unhealthy(format!("cannot reach the database: {e} ({saturated})"))
            }
        }
        .with_pool(before);
    }
    let started = Instant::now();
    let ping = async {
        let mut conn = pool.acquire().await?;
        conn.ping().await
    };
    let outcome = ping.await;
    let elapsed = started.elapsed();
    // The connection the check borrowed may not be back yet: count as in use what the
    // traffic held before the check, and the rest of what is open now as idle.
    let after = stats(pool);
    let open = after.idle + after.in_use;
    let counts = PoolStats::new(
        open.saturating_sub(before.in_use),
        before.in_use.min(open),
        after.max,
    );
    match outcome {
        Err(e) => {
            CheckResult::unhealthy(format!("cannot reach the database: {e}")).with_pool(counts)
        }
        Ok(()) => {
            let result = if elapsed > slow {
                CheckResult::degraded(format!(
                    "the round trip took {} ms (limit {} ms)",
                    ms(elapsed),
                    ms(slow)
                ))
            } else {
                CheckResult::healthy()
            };
            result.with_detail("ping_ms", ms(elapsed)).with_pool(counts)
        }
    }
}

/// A ping over a connection opened for it with the pool's options, then closed.
async fn own_round_trip<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Result<(), sqlx::Error> {
    let mut conn =
        <DB::Connection as sqlx::Connection>::connect_with(&pool.connect_options()).await?;
    let pinged = conn.ping().await;
    // The ping's outcome is the answer; a failed goodbye changes nothing.
    let _ = conn.close().await;
    pinged
}

impl HealthCheck for DatabaseCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> BoxFuture<'_, CheckResult> {
        Box::pin(self.evaluate())
    }

    fn component_type(&self) -> &'static str {
        "datastore"
    }
}
