//! [`MonitoringService`] and its builder: routing of the monitoring endpoints.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{ACCEPT, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use observe_core::{
    HealthRegistry, MetricsCollector, OperationSnapshot, ProcessStats, SystemSummary,
};
use serde::Serialize;
use tower_service::Service;

use super::auth::bearer_matches;
use super::dashboard::{self, Dashboard, DashboardHistory};
use super::health;
use super::query::Query;
use super::readiness::Readiness;
use super::response::{self, MonitoringBody};

/// Who sees the details (figures and errors) of health checks in `/health`. The status
/// and the names of the checks are always shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DetailsPolicy {
    /// Everyone.
    Always,
    /// No one.
    Never,
    /// Callers presenting the configured token as a bearer token (the default).
    #[default]
    WithToken,
}

pub(crate) struct Shared {
    pub(crate) collector: MetricsCollector,
    pub(crate) health: HealthRegistry,
    pub(crate) readiness: Readiness,
    pub(crate) token: Option<String>,
    pub(crate) details: DetailsPolicy,
    pub(crate) liveness_limit: Option<Duration>,
    pub(crate) dashboard: Option<Dashboard>,
}

/// A [`Service`] answering the monitoring endpoints relative to where it is mounted.
///
/// | endpoint | answers |
/// | --- | --- |
/// | `GET /health` | the health report; 200 healthy or degraded, 503 unhealthy; `?detailed=true` also runs checks tagged `detailed`; `Accept: application/health+json` for the IETF draft format |
/// | `GET /ready` | 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","failing":[...]}` when a check tagged `ready` fails or the service drains |
/// | `GET /live` | 200 `{"status":"alive","uptime":...}`; 503 only when a [liveness limit](MonitoringServiceBuilder::liveness_limit) is set and readiness failed for longer |
/// | `GET /metrics` | every operation as JSON, keyed by name |
/// | `GET /system` | the collector's summary and the process figures |
/// | `GET /operation?name=X` | one operation (alias `?operation=X`); 400 without a name, 404 for an unknown one |
/// | `POST /reset` | resets the JSON views; needs `Authorization: Bearer <token>`; 401 without or with a wrong token, 403 when no token is configured |
/// | `GET /prometheus` | the exposition, by `Accept` (q-values): Prometheus text, OpenMetrics, or protobuf with native histograms (feature `protobuf`); see [`Exposition`](super::Exposition) |
/// | `GET /dashboard` | opt-in ([`with_dashboard`](MonitoringServiceBuilder::with_dashboard)): a live page, with `dashboard/app.js`, `dashboard/style.css` and `dashboard/data?since=SEQ` behind one guard |
///
/// `/health` and `/ready` take the Kubernetes conventions `?exclude=NAME` (repeatable)
/// and `?verbose`: `/ready` then lists each check's status; `/health` always does, and
/// accepts the flag for symmetry. Errors are JSON `{"error": "...", "status": N}`; every response carries
/// `Cache-Control: no-store`; `HEAD` works wherever `GET` does.
///
/// # Example
///
/// ```
/// use axum::Router;
/// use observe_core::{HealthRegistry, MetricsCollector};
/// use observe_tower::MonitoringService;
///
/// let collector = MetricsCollector::new();
/// let health = HealthRegistry::builder().collector(&collector).build().unwrap();
/// let monitoring = MonitoringService::builder(&collector)
///     .health(&health)
///     .reset_token("change-me")
///     .build();
/// let app: Router = Router::new().nest_service("/monitoring", monitoring);
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct MonitoringService {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MonitoringService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringService")
            .field("health", &self.shared.health)
            .field("reset_enabled", &self.shared.token.is_some())
            .field("details", &self.shared.details)
            .finish_non_exhaustive()
    }
}

impl MonitoringService {
    /// A builder for the monitoring endpoints of `collector`.
    pub fn builder(collector: &MetricsCollector) -> MonitoringServiceBuilder {
        MonitoringServiceBuilder {
            collector: collector.clone(),
            health: None,
            readiness: Readiness::new(),
            token: None,
            details: DetailsPolicy::default(),
            liveness_limit: None,
            dashboard: None,
            dashboard_access: None,
        }
    }

    /// The readiness switch of this service (turn it off to drain).
    pub fn readiness(&self) -> Readiness {
        self.shared.readiness.clone()
    }

    /// The dashboard's history, when the dashboard is enabled: call
    /// [`tick`](DashboardHistory::tick) from a task so that it fills while no one
    /// watches.
    #[must_use]
    pub fn dashboard_history(&self) -> Option<DashboardHistory> {
        self.shared.dashboard.as_ref().map(|d| d.history.clone())
    }

    async fn route<B>(shared: Arc<Shared>, req: Request<B>) -> Response<MonitoringBody> {
        let method = req.method().clone();
        let is_head = method == Method::HEAD;
        let path = req.uri().path();
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let query = Query::parse(req.uri().query());
        let read_only = matches!(method, Method::GET | Method::HEAD);
        let response = match path {
            "/dashboard" if req.uri().path().ends_with('/') && shared.dashboard.is_some() => {
                // The page's links are relative to `.../dashboard`.
                dashboard::redirect_to_page()
            }
            _ if dashboard::owns(path) => {
                dashboard::route(&shared, path, read_only, req.headers(), &query).await
            }
            "/reset" => {
                if method == Method::POST {
                    reset(&shared, &req)
                } else {
                    response::method_not_allowed("POST")
                }
            }
            "/" | "/health" | "/ready" | "/live" | "/metrics" | "/system" | "/operation"
            | "/prometheus"
                if !read_only =>
            {
                response::method_not_allowed("GET, HEAD")
            }
            "/" => index(shared.dashboard.is_some()),
            "/health" => health::health(&shared, req.headers(), &query).await,
            "/ready" => health::ready(&shared, &query).await,
            "/live" => health::live(&shared).await,
            "/metrics" => operations(&shared.collector),
            "/system" => system(&shared.collector),
            "/operation" => operation(&shared.collector, &query),
            "/prometheus" => prometheus(&shared.collector, &req),
            _ => response::error(StatusCode::NOT_FOUND, &format!("no endpoint at {path:?}")),
        };
        if is_head {
            response::without_body(response)
        } else {
            response
        }
    }
}

impl<B> Service<Request<B>> for MonitoringService
where
    B: Send + 'static,
{
    type Response = Response<MonitoringBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move { Ok(Self::route(shared, req).await) })
    }
}

fn index(dashboard: bool) -> Response<MonitoringBody> {
    let mut endpoints = vec![
        "/health",
        "/ready",
        "/live",
        "/metrics",
        "/system",
        "/operation",
        "/reset",
        "/prometheus",
    ];
    if dashboard {
        endpoints.push("/dashboard");
    }
    response::json(
        StatusCode::OK,
        &serde_json::json!({ "endpoints": endpoints }),
    )
}

fn operations(collector: &MetricsCollector) -> Response<MonitoringBody> {
    let by_name: BTreeMap<String, OperationSnapshot> = collector
        .snapshot()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    response::json(StatusCode::OK, &by_name)
}

fn system(collector: &MetricsCollector) -> Response<MonitoringBody> {
    #[derive(Serialize)]
    struct System {
        summary: SystemSummary,
        process: Option<ProcessStats>,
    }
    response::json(
        StatusCode::OK,
        &System {
            summary: collector.summary(),
            process: ProcessStats::read(),
        },
    )
}

fn operation(collector: &MetricsCollector, query: &Query) -> Response<MonitoringBody> {
    let name = query.get("name").or_else(|| query.get("operation"));
    match name {
        None | Some("") => response::error(
            StatusCode::BAD_REQUEST,
            "missing parameter: give the operation as ?name=NAME (or ?operation=NAME)",
        ),
        Some(name) => match collector.get(name) {
            Some(snapshot) => response::json(StatusCode::OK, &snapshot),
            None => response::error(
                StatusCode::NOT_FOUND,
                &format!("no operation named {name:?}"),
            ),
        },
    }
}

fn reset<B>(shared: &Shared, req: &Request<B>) -> Response<MonitoringBody> {
    let Some(token) = shared.token.as_deref() else {
        return response::error(
            StatusCode::FORBIDDEN,
            "reset is disabled: no reset token is configured",
        );
    };
    if !bearer_matches(req.headers(), token) {
        let mut response = response::error(
            StatusCode::UNAUTHORIZED,
            "reset needs the configured token as `Authorization: Bearer <token>`",
        );
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    shared.collector.reset();
    response::json(
        StatusCode::OK,
        &serde_json::json!({
            "status": "reset",
            "note": "JSON views restarted; Prometheus counters keep counting",
        }),
    )
}

fn prometheus<B>(collector: &MetricsCollector, req: &Request<B>) -> Response<MonitoringBody> {
    let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    super::negotiate::respond(collector, accept)
}

/// Builder for [`MonitoringService`].
#[must_use]
pub struct MonitoringServiceBuilder {
    collector: MetricsCollector,
    health: Option<HealthRegistry>,
    readiness: Readiness,
    token: Option<String>,
    details: DetailsPolicy,
    liveness_limit: Option<Duration>,
    dashboard: Option<DashboardHistory>,
    dashboard_access: Option<DetailsPolicy>,
}

impl std::fmt::Debug for MonitoringServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringServiceBuilder")
            .field("health", &self.health.is_some())
            .field("reset_enabled", &self.token.is_some())
            .field("details", &self.details)
            .field("liveness_limit", &self.liveness_limit)
            .field("dashboard", &self.dashboard.is_some())
            .field("dashboard_access", &self.dashboard_access)
            .finish_non_exhaustive()
    }
}

impl MonitoringServiceBuilder {
    /// The health registry behind `/health`, `/ready` and `/live`. Without one, a
    /// registry with no checks answers: healthy, ready.
    pub fn health(mut self, health: &HealthRegistry) -> Self {
        self.health = Some(health.clone());
        self
    }

    /// The token that `POST /reset` requires (and that unlocks health details under
    /// [`DetailsPolicy::WithToken`]). Without one, reset answers 403. An empty token
    /// counts as none.
    pub fn reset_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// Who sees the details of health checks (default [`DetailsPolicy::WithToken`]).
    pub fn details(mut self, policy: DetailsPolicy) -> Self {
        self.details = policy;
        self
    }

    /// Shares a readiness switch created elsewhere (for example before the server).
    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// Opt-in: `/live` answers 503 once readiness has failed continuously for longer
    /// than `limit` (draining excluded), for services that cannot recover by themselves.
    /// Off by default: liveness never depends on dependencies.
    pub fn liveness_limit(mut self, limit: Duration) -> Self {
        self.liveness_limit = Some(limit);
        self
    }

    /// Opt-in: serves the live dashboard at `dashboard` (see the
    /// [module docs](crate::monitoring#the-dashboard)), with the default
    /// [`DashboardHistory`]. Access follows the [details policy](Self::details) unless
    /// [`dashboard_access`](Self::dashboard_access) sets its own; under
    /// [`DetailsPolicy::WithToken`] the token is the [reset token](Self::reset_token).
    pub fn with_dashboard(mut self) -> Self {
        self.dashboard = Some(DashboardHistory::new(&self.collector));
        self
    }

    /// Opt-in: serves the live dashboard over this history (for other intervals or
    /// bounds than the default ones).
    pub fn dashboard(mut self, history: DashboardHistory) -> Self {
        self.dashboard = Some(history);
        self
    }

    /// Who may open the dashboard, when it differs from who sees health details.
    pub fn dashboard_access(mut self, policy: DetailsPolicy) -> Self {
        self.dashboard_access = Some(policy);
        self
    }

    /// Builds the service.
    pub fn build(self) -> MonitoringService {
        let health = self.health.unwrap_or_else(|| {
            HealthRegistry::builder()
                .collector(&self.collector)
                .build()
                .unwrap_or_else(|_| unreachable!("a registry without checks always builds"))
        });
        MonitoringService {
            shared: Arc::new(Shared {
                collector: self.collector,
                health,
                readiness: self.readiness,
                token: self.token,
                details: self.details,
                liveness_limit: self.liveness_limit,
                dashboard: self
                    .dashboard
                    .map(|history| Dashboard::new(history, self.dashboard_access)),
            }),
        }
    }
}
