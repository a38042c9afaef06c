//! End-to-end tests of the reference server on ephemeral ports: the API and every
//! monitoring endpoint on SQLite and on PostgreSQL and Redis, bad inputs, faults cut and
//! restored through the test TCP proxy, the exposition through `promtool`, and a
//! graceful shutdown of the real binary.

#[path = "../../../observe-core/tests/prometheus/promtool.rs"]
mod promtool;
#[path = "../../../observe-core/tests/support/proxy.rs"]
mod proxy;
#[path = "../../../observe-core/tests/support/services.rs"]
mod services;

mod api;
mod bad_input;
mod docs;
mod faults;
mod fuzz_regressions;
mod limits;
mod logs;
mod monitoring;
mod secrets;
mod shutdown;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use observe_axum_example::Config;
use observe_axum_example::db::Db;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::prelude::*;

/// A server running in this process on an ephemeral port.
pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) db: Db,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    database: Option<PgDatabase>,
}

impl TestServer {
    pub(crate) async fn start(config: Config) -> Self {
        let mut app = observe_axum_example::build(&config)
            .await
            .unwrap_or_else(|e| panic!("the server builds: {e}"));
        // The real binary installs one global subscriber whose `observe` layer records
        // the spans of the store and the cache; the servers of this process each get one
        // of their own, set around each request.
        let spans = tracing::Dispatch::new(
            tracing_subscriber::registry().with(observe_core::tracing::layer(&app.collector)),
        );
        app.router = app.router.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                next.run(request).with_subscriber(spans.clone())
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("an ephemeral port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let db = app.db.clone();
        let task = tokio::spawn(observe_axum_example::serve(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            Duration::ZERO,
        ));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        Self {
            base,
            client,
            db,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
            database: None,
        }
    }

    /// On a fresh SQLite file, with an in-process cache.
    pub(crate) async fn sqlite() -> Self {
        Self::sqlite_with(|_| {}).await
    }

    pub(crate) async fn sqlite_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("expenses.db").display());
        let mut config = Config::for_tests(&url);
        tweak(&mut config);
        let mut server = Self::start(config).await;
        server._dir = Some(dir);
        server
    }

    /// On a fresh PostgreSQL database reached at `db_addr` (the server itself or a
    /// proxy), with Redis at `redis_url` if given.
    pub(crate) async fn postgres(
        database: PgDatabase,
        db_url: &str,
        redis_url: Option<String>,
    ) -> Self {
        let mut config = Config::for_tests(db_url);
        config.redis_url = redis_url;
        let mut server = Self::start(config).await;
        server.database = Some(database);
        server
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let body = response.text().await.expect("a body");
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    pub(crate) async fn rows(&self) -> i64 {
        self.db.count().await.expect("rows counted")
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task").expect("served");
        }
        if let Some(database) = self.database.take() {
            database.drop_it().await;
        }
    }
}

/// A database of its own on the machine's PostgreSQL, dropped at the end.
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

impl PgDatabase {
    pub(crate) async fn create(admin_url: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "observe_e2e_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let admin = sqlx::PgPool::connect(admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create a test database");
        admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Self {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn drop_it(self) {
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
            admin.close().await;
        }
    }
}

/// Polls `probe` until it returns true, for at most `limit`.
pub(crate) async fn eventually<F, Fut>(what: &str, limit: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !probe().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
