//! A real `prometheus` process on loopback, and a few calls of its HTTP API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A Prometheus server that is killed, and its data removed, when dropped.
pub(crate) struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

/// A scrape job: its name and the path it scrapes.
pub(crate) struct Job<'a> {
    pub(crate) name: &'a str,
    pub(crate) path: &'a str,
}

impl Prometheus {
    /// Starts `prometheus` with `features` (`--enable-feature`), scraping `target`'s
    /// `jobs` every second. `None` when the binary is missing and services are not
    /// required (the skip is printed); a panic when they are.
    pub(crate) fn start(
        test: &str,
        features: &str,
        target: SocketAddr,
        jobs: &[Job<'_>],
    ) -> Option<Self> {
        let version = Command::new("prometheus").arg("--version").output();
        if let Err(e) = version {
            let required = std::env::var("OBSERVE_REQUIRE_SERVICES").as_deref() == Ok("1");
            assert!(
                !required,
                "{test}: prometheus is required (OBSERVE_REQUIRE_SERVICES=1) but cannot run: {e}"
            );
            eprintln!(
                "SKIP {test}: prometheus cannot run ({e}); install the Debian package prometheus"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "observe-real-prometheus-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n",
        );
        for job in jobs {
            config.push_str(&format!(
                "  - job_name: {}\n    metrics_path: {}\n    static_configs:\n      - targets: ['{target}']\n",
                job.name, job.path
            ));
        }
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("the config is written");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--enable-feature={features}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Self { child, addr, dir };
        prometheus.wait_ready();
        Some(prometheus)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if get(self.addr, "/-/ready").is_some_and(|(status, _)| status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus on {} was not ready within 30 s", self.addr);
    }

    /// `data` of an API call, which must succeed.
    pub(crate) fn api(&self, path_and_query: &str) -> Value {
        let (status, body) = get(self.addr, path_and_query)
            .unwrap_or_else(|| panic!("prometheus answers {path_and_query}"));
        let answer: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path_and_query}: not JSON ({e}): {body}"));
        assert_eq!(status, 200, "{path_and_query}: {body}");
        assert_eq!(answer["status"], "success", "{path_and_query}: {body}");
        answer["data"].clone()
    }

    /// Each job's scrape health and last error, once every job has been scraped at
    /// least `scrapes` times (waits up to 30 s).
    pub(crate) fn targets_after(&self, scrapes: usize) -> Vec<(String, String, String)> {
        let started = Instant::now();
        let needed = Duration::from_secs(scrapes as u64);
        loop {
            let data = self.api("/api/v1/targets?state=active");
            let targets: Vec<_> = data["activeTargets"]
                .as_array()
                .map(|targets| {
                    targets
                        .iter()
                        .map(|t| {
                            let text = |key: &str| t[key].as_str().unwrap_or_default().to_owned();
                            (text("scrapePool"), text("health"), text("lastError"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let all_scraped = targets.iter().all(|(_, health, _)| health != "unknown");
            if all_scraped && !targets.is_empty() && started.elapsed() >= needed {
                return targets;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "targets not all scraped within 30 s: {targets:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The exemplars of the series matching `selector`: `(series labels, exemplar
    /// labels)` pairs, over the last five minutes.
    pub(crate) fn exemplars(&self, selector: &str) -> Vec<(Value, Value)> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", selector)
            .append_pair("start", &(now - 300).to_string())
            .append_pair("end", &(now + 60).to_string())
            .finish();
        let data = self.api(&format!("/api/v1/query_exemplars?{query}"));
        let mut out = Vec::new();
        for series in data.as_array().into_iter().flatten() {
            for exemplar in series["exemplars"].as_array().into_iter().flatten() {
                out.push((series["seriesLabels"].clone(), exemplar["labels"].clone()));
            }
        }
        out
    }

    /// The values of label `label` on the series matching `selector`.
    pub(crate) fn label_values(&self, label: &str, selector: &str) -> Vec<String> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("match[]", selector)
            .finish();
        let data = self.api(&format!("/api/v1/label/{label}/values?{query}"));
        data.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A plain HTTP/1.0 GET: the status and the body, or `None` when nobody answers.
fn get(addr: SocketAddr, path_and_query: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}
