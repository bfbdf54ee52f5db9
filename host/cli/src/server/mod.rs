//! The HTTP worker (`activity-host serve`).
//!
//! | route | what |
//! |---|---|
//! | `GET /healthz` | 200 while the process serves (never needs the token) |
//! | `GET /readyz` | 200 when the store answers (it is asked) and the [`Frontend`] is ready, 503 while not (calls still run, degraded) |
//! | `GET /v1/components` | loaded components: file, sha256, exports with WIT signatures and rules |
//! | `POST /v1/components/{name}/call[?refresh=true]` | `{"export": "fetch-user", "args": [123]}` (JSON arguments) or `{"wave": "fetch-user(123)"}` |
//! | `POST /v1/components/{name}/invalidate` | `{"export", "args"}` or `{"wave"}`: one entry; `{"export"}`: an export; `{"all": true}`: the component (a body naming nothing is 400; an unknown component 404) |
//! | `GET /v1/components/{name}/entries[?export=&cursor=&limit=]` | a page of the component's cached entries: key, export, bytes, age, TTL left, hits; `next` is the next page's cursor |
//! | `DELETE /v1/entries/{key}` | evicts the entry under that key (404 if none) |
//! | `GET /v1/stats` | counters per export since the worker started |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /openapi.json` | the OpenAPI description of these routes (`host/cli/openapi.json`) |
//! | `GET /ui` | the worker's page, for people ([`ui`]) |
//!
//! A call's response carries `x-cache: hit|miss|bypass|degraded`,
//! `x-cache-key`, and on a hit from the store the entry's age (`age` in
//! seconds, `x-cache-age-ms`). Errors are JSON `{"error": "…", "code": "…"}`
//! with a status that says whose fault it is: 400 bad input (an ambiguous
//! export name too), 401 missing token, 404 unknown component, export or
//! route, 405 method, 413 body too large, 415 not JSON, 422 unknown body
//! fields, 500 the guest failed, 503 the store is down (`/readyz`), 504 call
//! timeout (the worker's or the component's).

mod entries;
mod metrics;
mod routes;
mod ui;

pub(crate) use entries::EntryJson;
pub(crate) use routes::stats_json;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use activity_host::{CallError, ErrorKind, ExportLookupError, Host, HostError, StoreErrorKind};
use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::catalog::Catalog;
use crate::recent::Recent;
use crate::worker::Worker;

/// How the worker serves: the `[server]` table (every key optional), with
/// `serve`'s flags applied.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:8080`: not reachable from
    /// other machines unless asked).
    pub listen: SocketAddr,
    /// Directory whose `.wasm` files are served (when `serve` gets neither
    /// `--dir` nor FILEs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Bearer token required by every route but `/healthz`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Largest request body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Longest a call may take before the worker answers 504 (default 30 s).
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            dir: None,
            token: None,
            max_body_bytes: 1 << 20,
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// What every route sees.
struct App {
    host: Arc<Host>,
    catalog: Arc<Catalog>,
    config: ServerConfig,
    /// Where results are cached (passwords hidden).
    store: String,
    /// What the process did lately, for the page.
    recent: Arc<Recent>,
    /// Turns true when the worker starts shutting down: streams that would
    /// never end by themselves (the page's live list) end then.
    stopping: watch::Receiver<bool>,
    /// The front end these routes serve beside (the Temporal worker), if any.
    frontend: Option<Arc<dyn Frontend>>,
}

/// A front end that serves these routes as its ops listener (the Temporal
/// worker) and adds to them: its own readiness and metrics.
pub trait Frontend: Send + Sync {
    /// Why it is not ready to work, or `None` when it is.
    fn not_ready(&self) -> BoxFuture<'_, Option<String>>;

    /// Appends its metric families (Prometheus text format) to `text`.
    fn metrics(&self, text: &mut String);
}

/// Serves `worker`'s components (beside `frontend`, if any) until
/// `shutdown` resolves, then lets
/// in-flight requests finish.
pub async fn serve(
    worker: &Worker,
    config: ServerConfig,
    recent: Arc<Recent>,
    frontend: Option<Arc<dyn Frontend>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let app = router(Arc::new(App {
        host: worker.host.clone(),
        catalog: worker.catalog.clone(),
        config,
        store: worker.store.clone(),
        recent,
        stopping,
        frontend,
    }));
    let shutdown = async move {
        shutdown.await;
        stop.send_replace(true);
    };
    tracing::info!(%address, store = %worker.store, "worker listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("worker stopped");
    Ok(())
}

/// The worker's routes.
fn router(worker: Arc<App>) -> Router {
    let max_body = worker.config.max_body_bytes;
    let protected = Router::new()
        .route("/readyz", get(ready))
        .route("/v1/components", get(routes::components))
        .route("/v1/components/{component}/call", post(routes::call))
        .route(
            "/v1/components/{component}/invalidate",
            post(routes::invalidate),
        )
        .route("/v1/components/{component}/entries", get(entries::list))
        .route("/v1/entries/{key}", delete(entries::evict))
        .route("/v1/stats", get(routes::stats))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(
            worker.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
        .merge(ui::router(worker.clone()))
        .fallback(|request: Request| async move {
            let route = format!("{} {}", request.method(), request.uri().path());
            error(StatusCode::NOT_FOUND, format!("no such route: {route}"))
        })
        .method_not_allowed_fallback(|request: Request| async move {
            let route = format!("{} {}", request.method(), request.uri().path());
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("method not allowed: {route}"),
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(worker)
}

async fn require_token(State(worker): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(token) = &worker.config.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if given.is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes())) {
        next.run(request).await
    } else {
        error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
    }
}

/// Compares without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// An error answer: `{"error": MESSAGE, "code": CODE}`, the code a stable
/// word for the status (`not-found`, `timeout`, …) that clients can match.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let code = match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        404 => "not-found",
        405 => "method-not-allowed",
        406 => "not-acceptable",
        413 => "too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        500 => "guest-failed",
        503 => "unavailable",
        504 => "timeout",
        _ => "error",
    };
    (
        status,
        Json(json!({ "error": message.into(), "code": code })),
    )
        .into_response()
}

fn host_error(failure: HostError) -> Response {
    error(status_of(&failure), failure.to_string())
}

/// The status that says whose fault `failure` is.
fn status_of(failure: &HostError) -> StatusCode {
    match failure {
        HostError::Export(ExportLookupError::Ambiguous { .. })
        | HostError::ExportedBySeveral { .. } => StatusCode::BAD_REQUEST,
        HostError::UnknownComponent(_) | HostError::Export(_) | HostError::NotExported { .. } => {
            StatusCode::NOT_FOUND
        }
        HostError::Arguments { .. } | HostError::NotCached(_) => StatusCode::BAD_REQUEST,
        HostError::Call(CallError::Arguments { .. }) => StatusCode::BAD_REQUEST,
        HostError::Call(CallError::ArgumentsTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        // The worker's --call-timeout or the component's own `timeout`.
        HostError::Call(CallError::Deadline { .. })
        | HostError::Call(CallError::Guest {
            kind: ErrorKind::Timeout,
            ..
        }) => StatusCode::GATEWAY_TIMEOUT,
        HostError::Store(error) if error.kind == StoreErrorKind::BadRequest => {
            StatusCode::BAD_REQUEST
        }
        HostError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The OpenAPI description of the routes, kept in `host/cli/openapi.json`.
const OPENAPI: &str = include_str!("../../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn ready(State(worker): State<Arc<App>>) -> Response {
    if let Some(frontend) = &worker.frontend
        && let Some(why) = frontend.not_ready().await
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, why);
    }
    if worker.host.store_is_ready().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store unavailable; calls run uncached",
        )
    }
}
