//! Configuration from flags and environment variables; every setting documented by
//! `--help`. A bad value stops the program at start with a message naming the setting.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// The reference server of `observe`: an expenses API with its monitoring wired in.
#[derive(Clone, Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "OBSERVE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// The database: `sqlite://FILE` (created if missing) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://observe-example.db", value_parser = Unquoted(parse_database_url))]
    pub database_url: String,

    /// Redis as the cache (optional; an in-process cache otherwise), `redis://...`.
    #[arg(long, env = "REDIS_URL", value_parser = Unquoted(parse_redis_url))]
    pub redis_url: Option<String>,

    /// The bearer token that `POST /monitoring/reset` requires and that unlocks health
    /// details; reset is disabled without it.
    #[arg(long, env = "OBSERVE_RESET_TOKEN", hide_env_values = true)]
    pub reset_token: Option<String>,

    /// Who sees health details: `token` (callers presenting the reset token), `always`
    /// or `never`. Statuses and check names always show.
    #[arg(long, env = "OBSERVE_HEALTH_DETAILS", value_enum, default_value_t = HealthDetails::Token)]
    pub health_details: HealthDetails,

    /// The live dashboard at `/monitoring/dashboard`: `auto` (open when listening on
    /// loopback, behind the reset token otherwise), `open`, `token` or `off`.
    #[arg(long, env = "OBSERVE_DASHBOARD", value_enum, default_value_t = DashboardAccess::Auto)]
    pub dashboard: DashboardAccess,

    /// Prefix of the metric names.
    #[arg(long, env = "OBSERVE_NAMESPACE", default_value = "observe", value_parser = parse_namespace)]
    pub namespace: String,

    /// Export the operation and HTTP duration histograms also as Prometheus native
    /// histograms at this schema (-4 to 6; 3 when the flag is given without a value), in
    /// the protobuf exposition. Off by default: a Prometheus with native histograms on
    /// stops ingesting the classic `_bucket` series of such a histogram (see
    /// docs/metrics.md before turning it on).
    #[arg(long, env = "OBSERVE_NATIVE_HISTOGRAMS", value_name = "SCHEMA", num_args = 0..=1, default_missing_value = "3", allow_negative_numbers = true, value_parser = parse_native_schema)]
    pub native_histograms: Option<i8>,

    /// Log format: one JSON object per line, or human-readable.
    #[arg(long, env = "OBSERVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// How long readiness answers 503 before the server stops accepting, on SIGTERM or
    /// Ctrl-C, in seconds.
    #[arg(long, env = "OBSERVE_DRAIN_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain_seconds: u64,

    /// How often the health checks refresh in the background, in seconds.
    #[arg(long, env = "OBSERVE_HEALTH_INTERVAL_SECONDS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub health_interval_seconds: u64,

    /// Largest number of database connections.
    #[arg(long, env = "OBSERVE_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// A subcommand instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Exits 0 when the live endpoint answers 200, 1 otherwise: a container
    /// `HEALTHCHECK` without curl.
    Healthcheck {
        /// The live endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8080/monitoring/live")]
        url: String,
        /// How long to wait for the answer, in seconds.
        #[arg(long, default_value_t = 3)]
        timeout_seconds: u64,
    },
}

/// Who sees health details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HealthDetails {
    /// Callers presenting the reset token.
    Token,
    /// Everyone.
    Always,
    /// No one.
    Never,
}

/// Who may open the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DashboardAccess {
    /// Open on a loopback address, behind the reset token otherwise.
    Auto,
    /// Everyone who reaches the server.
    Open,
    /// Callers presenting the reset token (the browser asks for it as a password).
    Token,
    /// No dashboard.
    Off,
}

/// Log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

impl Config {
    /// The drain time.
    #[must_use]
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_seconds)
    }

    /// The configuration for tests and embedding: SQLite at `database_url`, an
    /// ephemeral port, no drain.
    #[must_use]
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_owned(),
            redis_url: None,
            reset_token: None,
            health_details: HealthDetails::Token,
            dashboard: DashboardAccess::Auto,
            namespace: "observe".to_owned(),
            native_histograms: None,
            log_format: LogFormat::Pretty,
            drain_seconds: 0,
            health_interval_seconds: 2,
            db_max_connections: 5,
            command: None,
        }
    }
}

/// The parser of a setting that may hold a password (a connection URL): its error names
/// the setting and the reason but never quotes the value, which clap's own errors do
/// (and stderr ends up in logs).
#[derive(Clone, Copy)]
struct Unquoted(fn(&str) -> Result<String, String>);

impl clap::builder::TypedValueParser for Unquoted {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let setting = arg.map_or_else(|| "a setting".to_owned(), |arg| format!("'{arg}'"));
        let refuse = |reason: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "invalid value for {setting} (not shown: it may hold a password): {reason}\n"
                ),
            )
            .with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| refuse("not UTF-8"))?;
        (self.0)(text).map_err(|reason| refuse(&reason))
    }
}

fn parse_database_url(url: &str) -> Result<String, String> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(url.to_owned())
    } else {
        Err("expected sqlite://FILE or postgres://USER@HOST/DB".to_owned())
    }
}

fn parse_redis_url(url: &str) -> Result<String, String> {
    redis::Client::open(url)
        .map(|_| url.to_owned())
        .map_err(|e| format!("not a Redis URL: {e}"))
}

fn parse_native_schema(schema: &str) -> Result<i8, String> {
    let schema: i8 = schema
        .trim()
        .parse()
        .map_err(|_| format!("expected a schema from -4 to 6, got {schema:?}"))?;
    observe_core::prometheus::NativeHistograms::new(schema)
        .map(|_| schema)
        .map_err(|e| e.to_string())
}

fn parse_namespace(namespace: &str) -> Result<String, String> {
    observe_core::MetricsCollector::builder()
        .namespace(namespace)
        .build()
        .map(|_| namespace.to_owned())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_run_on_sqlite_on_port_8080() {
        let config =
            Config::try_parse_from(["observe-axum-example"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert!(config.database_url.starts_with("sqlite://"));
        assert_eq!(config.redis_url, None);
        assert_eq!(config.drain_seconds, 5);
        assert_eq!(config.namespace, "observe");
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (args, setting) in [
            (vec!["--addr", "nope"], "--addr"),
            (vec!["--database-url", "mysql://x"], "--database-url"),
            (vec!["--namespace", "1bad"], "--namespace"),
            (vec!["--drain-seconds", "soon"], "--drain-seconds"),
            (vec!["--drain-seconds", "7200"], "--drain-seconds"),
            (vec!["--log-format", "xml"], "--log-format"),
            (vec!["--native-histograms", "7"], "--native-histograms"),
            (vec!["--native-histograms=-5"], "--native-histograms"),
            (vec!["--native-histograms", "three"], "--native-histograms"),
        ] {
            let err = Config::try_parse_from(std::iter::once("observe-axum-example").chain(args))
                .expect_err("a bad value");
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(setting), "{err}");
        }
    }

    #[test]
    fn native_histograms_are_off_unless_asked_and_default_to_schema_3() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(
                std::iter::once("observe-axum-example").chain(args.iter().copied()),
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .native_histograms
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--native-histograms"]), Some(3));
        assert_eq!(parse(&["--native-histograms", "5"]), Some(5));
        assert_eq!(parse(&["--native-histograms=-4"]), Some(-4));
    }
}
