//! The wiring: the collector, the store, the cache, the health checks, the layers and
//! the monitoring endpoints, put together the way a service of yours would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use observe_core::health::{
    CheckOptions, ErrorRateCheck, HealthRegistry, LatencyCheck, RedisCheck, ReportOptions,
    RuntimeCheck, SystemCheck,
};
use observe_core::{MetricsCollector, TraceContext};
use observe_tower::monitoring::DetailsPolicy;
use observe_tower::monitoring::Exposition;
use observe_tower::{HttpMetricsLayer, MonitoringService, Readiness};

use crate::api::{self, ApiError, AppState};
use crate::cache::Cache;
use crate::config::{Config, DashboardAccess, HealthDetails};
use crate::db::Db;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be reached.
    #[error("cannot connect to the database (DATABASE_URL): {0}")]
    Database(#[source] sqlx::Error),
    /// The migrations failed.
    #[error("the database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A setting is invalid.
    #[error("invalid setting {setting}: {reason}")]
    Setting {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl StartError {
    /// The exit code: 2 for a bad setting, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Setting { .. } => 2,
            _ => 1,
        }
    }
}

/// A built server, ready to serve.
#[derive(Debug)]
pub struct App {
    /// Every route.
    pub router: Router,
    /// The store.
    pub db: Db,
    /// The metrics.
    pub collector: MetricsCollector,
    /// The health checks.
    pub health: HealthRegistry,
    /// The readiness switch, turned off to drain.
    pub readiness: Readiness,
    /// The task refreshing the health checks (and the dashboard's history).
    pub refresher: tokio::task::JoinHandle<()>,
}

/// Builds the server from `config`: connects, migrates, and wires everything.
///
/// # Errors
///
/// When a setting is invalid, the database cannot be reached or a migration fails.
pub async fn build(config: &Config) -> Result<App, StartError> {
    build_with(config, collector(config)?).await
}

/// The collector that `config` describes: `main` makes it first, so that the `tracing`
/// subscriber can record spans into it from the start.
///
/// # Errors
///
/// When a setting of the collector is invalid.
pub fn collector(config: &Config) -> Result<MetricsCollector, StartError> {
    let mut builder = MetricsCollector::builder().namespace(config.namespace.clone());
    if let Some(schema) = config.native_histograms {
        builder = builder.native_histograms(schema);
    }
    builder.build().map_err(|e| StartError::Setting {
        setting: match e {
            observe_core::BuildError::NativeSchema { .. } => "OBSERVE_NATIVE_HISTOGRAMS",
            _ => "OBSERVE_NAMESPACE",
        },
        reason: e.to_string(),
    })
}

/// Builds the server from `config` on `collector`; see [`build`].
///
/// # Errors
///
/// When a setting is invalid, the database cannot be reached or a migration fails.
pub async fn build_with(config: &Config, collector: MetricsCollector) -> Result<App, StartError> {
    let db = Db::connect(&config.database_url, config.db_max_connections)
        .await
        .map_err(StartError::Database)?;
    db.migrate().await?;

    let (cache, redis_check) = match &config.redis_url {
        Some(url) => {
            let setting = |e: redis::RedisError| StartError::Setting {
                setting: "REDIS_URL",
                reason: e.to_string(),
            };
            (
                Cache::redis(&collector, url).map_err(setting)?,
                Some(RedisCheck::from_url(url).map_err(setting)?),
            )
        }
        None => (Cache::in_process(&collector), None),
    };

    let mut health = HealthRegistry::builder()
        .service(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .collector(&collector)
        .check_with(
            db.health_check(),
            CheckOptions::new().ready().failure_threshold(2),
        )
        .check_with(SystemCheck::new(), CheckOptions::new().critical(false))
        .check_with(
            ErrorRateCheck::new(&collector).operations([
                "create_expense",
                "get_expenses",
                "get_expense",
            ]),
            CheckOptions::new().critical(false),
        )
        .check_with(
            LatencyCheck::new(&collector)
                .operations(["db_query", "db_insert"])
                .thresholds(Duration::from_millis(250), Duration::from_secs(2)),
            CheckOptions::new().critical(false),
        )
        .check_with(RuntimeCheck::new(), CheckOptions::new().critical(false));
    if let Some(check) = redis_check {
        // The API serves without its cache: Redis down degrades, it does not fail.
        health = health.check_with(check, CheckOptions::new().critical(false));
    }
    if let Some(token) = &config.reset_token {
        health = health.redact(token.clone());
    }
    let health = health.build().map_err(|e| StartError::Setting {
        setting: "health checks",
        reason: e.to_string(),
    })?;
    // One run of every check before serving, then refreshes in the background: probes
    // never wait, and the health gauges stay current even when nothing polls /health.
    health.report(&ReportOptions::new().detailed(true)).await;
    let interval = Duration::from_secs(config.health_interval_seconds);

    let readiness = Readiness::new();
    let mut monitoring = MonitoringService::builder(&collector)
        .health(&health)
        .readiness(readiness.clone())
        .details(match config.health_details {
            HealthDetails::Token => DetailsPolicy::WithToken,
            HealthDetails::Always => DetailsPolicy::Always,
            HealthDetails::Never => DetailsPolicy::Never,
        });
    if let Some(token) = &config.reset_token {
        monitoring = monitoring.reset_token(token.clone());
    }
    // The live dashboard at /monitoring/dashboard: open on loopback, behind the reset
    // token otherwise (as the password the browser asks for).
    let dashboard = match config.dashboard {
        DashboardAccess::Auto if config.addr.ip().is_loopback() => Some(DetailsPolicy::Always),
        DashboardAccess::Auto | DashboardAccess::Token => Some(DetailsPolicy::WithToken),
        DashboardAccess::Open => Some(DetailsPolicy::Always),
        DashboardAccess::Off => None,
    };
    if let Some(access) = dashboard {
        monitoring = monitoring.with_dashboard().dashboard_access(access);
    }
    let monitoring = monitoring.build();
    // Its history fills every 5 s, watched or not.
    let history = monitoring.dashboard_history();
    let background = health.background(interval);
    let refresher = tokio::spawn(async move {
        let sampler = async move {
            let Some(history) = history else { return };
            let mut every = tokio::time::interval(history.point_interval());
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                history.tick();
            }
        };
        tokio::join!(background, sampler);
    });

    let state = AppState {
        db: db.clone(),
        cache: Arc::new(cache),
        collector: collector.clone(),
    };
    // The layers wrap the API and its fallback (unknown paths are counted as
    // `unmatched`); the monitoring routes added after them are not measured, so scrapes
    // and probes do not drown the traffic in the figures.
    let router = Router::new()
        .merge(api::routes(state))
        .fallback(|| async { ApiError::not_found("no route here") })
        .layer(HttpMetricsLayer::new(&collector))
        .layer(middleware::from_fn(log_request))
        .nest_service("/monitoring", monitoring)
        .route("/metrics", get(prometheus).with_state(collector.clone()))
        // A method that `/metrics` does not serve gets the API's JSON error, not axum's
        // empty 405 (found by the fuzz target `api_json`).
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        });

    tracing::info!(
        database = db.kind(),
        cache = if config.redis_url.is_some() {
            "redis"
        } else {
            "in_process"
        },
        "server built"
    );
    Ok(App {
        router,
        db,
        collector,
        health,
        readiness,
        refresher,
    })
}

/// `GET /metrics`: the Prometheus exposition in the format `Accept` asks for:
/// Prometheus text, OpenMetrics, or protobuf (with native histograms when
/// `--native-histograms` is set).
async fn prometheus(State(collector): State<MetricsCollector>, headers: HeaderMap) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::negotiate(accept);
    match format.encode(&collector) {
        Ok(body) => {
            let content_type = HeaderValue::from_static(format.content_type());
            // The buffer goes back to the collector once the body is sent.
            let body = axum::body::Body::from(axum::body::Bytes::from_owner(body));
            ([(CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a metric failed to encode",
        )
        .into_response(),
    }
}

/// One log line per request, with its method, route, status and latency, and the
/// caller's trace id when the request carried a valid `traceparent`: logs, metrics
/// (its exemplars) and traces join on it.
async fn log_request(request: Request, next: Next) -> Response {
    let trace_id = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(TraceContext::from_traceparent)
        .map(|trace| format!("{:032x}", trace.trace_id()));
    let trace_id = trace_id.as_deref();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::warn!(%method, route, status, latency_ms, trace_id, "request");
    } else {
        tracing::info!(%method, route, status, latency_ms, trace_id, "request");
    }
    response
}
