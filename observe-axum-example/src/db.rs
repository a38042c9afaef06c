//! The expenses store on PostgreSQL or SQLite through `sqlx`, with embedded migrations.

use std::str::FromStr;
use std::time::Duration;

use observe_core::health::DatabaseCheck;
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

/// How long a request waits for a pooled connection before the database counts as
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A stored expense.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Expense {
    /// Its id.
    pub id: i64,
    /// What it was for (1 to 500 characters).
    pub description: String,
    /// The amount, in cents (positive).
    pub amount_cents: i64,
    /// Its category, if any.
    pub category: Option<String>,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
}

/// An expense to store, already validated.
#[derive(Clone, Debug)]
pub struct NewExpense {
    /// What it was for.
    pub description: String,
    /// The amount, in cents.
    pub amount_cents: i64,
    /// Its category.
    pub category: Option<String>,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
}

/// Which expenses to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// From this day on (inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Up to this day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// At most this many.
    pub limit: i64,
    /// After skipping this many.
    pub offset: i64,
}

/// The database: a pool of PostgreSQL or SQLite connections.
#[derive(Clone, Debug)]
pub enum Db {
    /// PostgreSQL.
    Postgres(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

/// Runs the same `sqlx` code on whichever pool the database has.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Postgres($pool) => $body,
            Db::Sqlite($pool) => $body,
        }
    };
}

/// The columns of an [`Expense`] (a macro, so queries stay literal SQL).
macro_rules! columns {
    () => {
        "id, description, amount_cents, category, date"
    };
}

/// The date range of a [`Filter`]: `$1` from, `$2` to, either may be NULL.
macro_rules! where_range {
    () => {
        "WHERE (CAST($1 AS TEXT) IS NULL OR date >= CAST($1 AS TEXT)) \
         AND (CAST($2 AS TEXT) IS NULL OR date <= CAST($2 AS TEXT))"
    };
}

impl Db {
    /// Connects to `url` (`postgres://...` or `sqlite://FILE`, created if missing).
    ///
    /// # Errors
    ///
    /// When the URL is malformed or the database cannot be reached.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect(url)
                .await?;
            Ok(Self::Postgres(pool))
        }
    }

    /// Applies the embedded migrations of this database's dialect.
    ///
    /// # Errors
    ///
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Self::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
            Self::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await,
        }
    }

    /// The health check of this database's pool, named `database`.
    #[must_use]
    pub fn health_check(&self) -> DatabaseCheck {
        match self {
            Self::Postgres(pool) => DatabaseCheck::postgres(pool.clone()),
            Self::Sqlite(pool) => DatabaseCheck::sqlite(pool.clone()),
        }
    }

    /// `postgres` or `sqlite`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Stores an expense and returns it with its id, once committed.
    ///
    /// # Errors
    ///
    /// Database errors.
    #[tracing::instrument(
        name = "db_insert",
        skip_all,
        err(level = "debug"),
        ret(level = "trace")
    )]
    pub async fn insert(&self, new: &NewExpense) -> Result<Expense, sqlx::Error> {
        const SQL: &str = concat!(
            "INSERT INTO expenses (description, amount_cents, category, date) VALUES ($1, $2, $3, $4) RETURNING ",
            columns!()
        );
        on_pool!(self, |pool| {
            sqlx::query_as::<_, Expense>(SQL)
                .bind(&new.description)
                .bind(new.amount_cents)
                .bind(&new.category)
                .bind(&new.date)
                .fetch_one(pool)
                .await
        })
    }

    /// The expense with `id`, if any.
    ///
    /// # Errors
    ///
    /// Database errors.
    #[tracing::instrument(
        name = "db_query",
        skip_all,
        err(level = "debug"),
        ret(level = "trace")
    )]
    pub async fn get(&self, id: i64) -> Result<Option<Expense>, sqlx::Error> {
        const SQL: &str = concat!("SELECT ", columns!(), " FROM expenses WHERE id = $1");
        on_pool!(self, |pool| sqlx::query_as::<_, Expense>(SQL)
            .bind(id)
            .fetch_optional(pool)
            .await)
    }

    /// A page of the expenses in the filter's range, newest first, and how many match
    /// in all.
    ///
    /// # Errors
    ///
    /// Database errors.
    #[tracing::instrument(
        name = "db_query",
        skip_all,
        err(level = "debug"),
        ret(level = "trace")
    )]
    pub async fn list(&self, filter: &Filter) -> Result<(Vec<Expense>, i64), sqlx::Error> {
        const PAGE: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM expenses ",
            where_range!(),
            " ORDER BY date DESC, id DESC LIMIT $3 OFFSET $4"
        );
        const COUNT: &str = concat!("SELECT COUNT(*) FROM expenses ", where_range!());
        on_pool!(self, |pool| {
            let items = sqlx::query_as::<_, Expense>(PAGE)
                .bind(&filter.from)
                .bind(&filter.to)
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT)
                .bind(&filter.from)
                .bind(&filter.to)
                .fetch_one(pool)
                .await?;
            Ok((items, total))
        })
    }

    /// How many expenses are stored.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn count(&self) -> Result<i64, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM expenses"
        )
        .fetch_one(pool)
        .await)
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }
}
