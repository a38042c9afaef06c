//! The dashboard in a real browser: Debian's `chromium`, driven by `playwright-core`
//! (`dashboard.test.mjs`), against the reference server on ephemeral ports, on
//! PostgreSQL through the test proxy so that the database can be cut and restored.
//!
//! Needs `chromium` and `npm ci` in this folder; `.ci/run` installs both and runs
//!
//! ```text
//! cargo test -p observe-axum-example --test browser -- --ignored --nocapture
//! ```
//!
//! The script asks for faults on its standard output (`cut`, `restore`, `stop`,
//! `start`), and this test answers `ok` on its standard input once done. Screenshots
//! land in `tests/browser/artifacts/` (not committed).

#[path = "../../../observe-core/tests/support/proxy.rs"]
mod proxy;
#[path = "../../../observe-core/tests/support/services.rs"]
mod services;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use observe_axum_example::Config;
use observe_axum_example::config::DashboardAccess;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOKEN: &str = "browser-test-token";

/// A server of this process on `addr` (port 0 for an ephemeral one).
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    async fn start(mut config: Config, addr: SocketAddr) -> Self {
        config.addr = addr;
        let app = observe_axum_example::build(&config)
            .await
            .unwrap_or_else(|e| panic!("the server builds: {e}"));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("a port for the server");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(observe_axum_example::serve(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            Duration::ZERO,
        ));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task").expect("served");
        }
    }
}

/// A database of its own on the machine's PostgreSQL.
async fn create_database(admin_url: &str) -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "observe_browser_{}_{}",
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
    (name.clone(), format!("{base}/{name}"))
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(admin_url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
        admin.close().await;
    }
}

/// What the browser needs, or why it cannot run.
fn browser_ready(dir: &Path) -> Result<(), String> {
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("/usr/bin/chromium is missing (apt-get install chromium)".to_owned());
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(format!(
            "playwright-core is missing: run `npm ci` in {}",
            dir.display()
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node_modules; run by .ci/run with --ignored"]
async fn the_dashboard_works_in_a_real_browser() {
    let test = "the_dashboard_works_in_a_real_browser";
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Err(reason) = browser_ready(&dir) {
        assert!(!services::services_required(), "{test}: {reason}");
        println!("skipping {test}: {reason}");
        return;
    }
    let Some(pg) = services::postgres(test).await else {
        return;
    };
    let (db_name, db_url) = create_database(&pg.url).await;
    let pg_proxy = proxy::Proxy::start(pg.addr).await;
    let mut config = Config::for_tests(&pg_proxy.url_for(&db_url));
    config.health_interval_seconds = 1;
    // On loopback the dashboard is open (the `auto` default).
    let mut open = Some(Server::start(config.clone(), "127.0.0.1:0".parse().expect("addr")).await);
    let open_addr = open.as_ref().map(|s| s.addr).expect("a server");
    // As if on a public address: behind the token.
    let dir_b = tempfile::tempdir().expect("a temporary directory");
    let mut guarded_config = Config::for_tests(&format!(
        "sqlite://{}",
        dir_b.path().join("expenses.db").display()
    ));
    guarded_config.dashboard = DashboardAccess::Token;
    guarded_config.reset_token = Some(TOKEN.to_owned());
    let guarded = Server::start(guarded_config, "127.0.0.1:0".parse().expect("addr")).await;

    let artifacts = dir.join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("the artifacts folder");
    let mut node = tokio::process::Command::new("node")
        .arg(dir.join("dashboard.test.mjs"))
        .current_dir(&dir)
        .env("OPEN_BASE", format!("http://{open_addr}"))
        .env("GUARDED_BASE", guarded.base())
        .env("TOKEN", TOKEN)
        .env("ARTIFACTS", &artifacts)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = node.stdin.take().expect("stdin");
    let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
    let run = async {
        while let Some(line) = lines.next_line().await.expect("the script's output") {
            println!("browser: {line}");
            match line.trim() {
                "cut" => pg_proxy.cut(),
                "restore" => pg_proxy.restore(),
                "stop" => {
                    if let Some(server) = open.take() {
                        server.stop().await;
                    }
                }
                "start" => open = Some(Server::start(config.clone(), open_addr).await),
                _ => continue,
            }
            stdin.write_all(b"ok\n").await.expect("answer the script");
            stdin.flush().await.expect("answer the script");
        }
        node.wait().await.expect("the script ends")
    };
    let status = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser test ends within 4 minutes");
    if let Some(server) = open.take() {
        server.stop().await;
    }
    guarded.stop().await;
    drop_database(&pg.url, &db_name).await;
    assert!(status.success(), "the browser checks failed: {status}");
}
