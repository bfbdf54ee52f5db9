//! The HTTP worker (`activity-host serve`).
//!
//! | route | what |
//! |---|---|
//! | `GET /healthz` | 200 while the process serves (never needs the token) |
//! | `GET /readyz` | 200 when the store is reachable, 503 while it is not (calls still run, degraded) |
//! | `GET /v1/components` | loaded components: file, sha256, exports with WIT signatures and rules |
//! | `POST /v1/components/{name}/call[?refresh=true]` | `{"export": "fetch-user", "args": [123]}` (JSON arguments) or `{"wave": "fetch-user(123)"}` |
//! | `POST /v1/components/{name}/invalidate` | `{"export", "args"}` or `{"wave"}`: one entry; `{"export"}`: an export; `{}`: the component |
//! | `GET /v1/stats` | counters per export since the worker started |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /openapi.json` | the OpenAPI description of these routes (`host/openapi.json`) |
//!
//! A call's response carries `x-cache: hit|miss|bypass|degraded`,
//! `x-cache-key`, and on a hit from the store the entry's age (`age` in
//! seconds, `x-cache-age-ms`). Errors are JSON `{"error": "…"}` with a status that says
//! whose fault it is: 400 bad input (an ambiguous export name too), 401
//! missing token, 404 unknown component or export, 413 body too large, 500 the guest failed, 504 call timeout.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use activity_host::wasm_wave::wasm::DisplayValue;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog::Catalog;
use activity_host::CachePolicy;
use activity_host::ExportLookupError;
use activity_host::LatencyHistogram;
use activity_host::to_json;
use activity_host::{CallError, CallOptions};
use activity_host::{Host, HostError};

/// How the worker serves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:8080`: not reachable from
    /// other machines unless asked).
    pub listen: SocketAddr,
    /// Bearer token required by every route but `/healthz`, if set.
    pub token: Option<String>,
    /// Largest request body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Longest a call may take before the worker answers 504 (default 30 s).
    pub call_timeout: Duration,
    /// How often component files are checked for changes (default 1 s).
    pub reload_interval: Duration,
    /// How often this worker's counters are added to the store's shared
    /// counters (default 10 s; also when the worker stops).
    pub stats_flush_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            max_body_bytes: 1 << 20,
            call_timeout: Duration::from_secs(30),
            reload_interval: Duration::from_secs(1),
            stats_flush_interval: Duration::from_secs(10),
        }
    }
}

struct Worker {
    host: Arc<Host>,
    catalog: Arc<Catalog>,
    config: ServerConfig,
}

/// Serves `host`'s components from `catalog` until `shutdown` resolves, then
/// lets in-flight requests finish.
pub async fn serve(
    host: Arc<Host>,
    catalog: Arc<Catalog>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let reload = catalog.keep_loaded(&host, config.reload_interval);
    let flush = host.keep_flushing_stats(config.stats_flush_interval);
    let app = router(host.clone(), catalog, config);
    tracing::info!(%address, "worker listening");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    reload.abort();
    flush.abort();
    if let Err(error) = host.flush_stats().await {
        tracing::warn!(%error, "counters not added to the store's shared counters");
    }
    tracing::info!("worker stopped");
    Ok(served?)
}

/// The worker's routes.
pub fn router(host: Arc<Host>, catalog: Arc<Catalog>, config: ServerConfig) -> Router {
    let max_body = config.max_body_bytes;
    let worker = Arc::new(Worker {
        host,
        catalog,
        config,
    });
    let protected = Router::new()
        .route("/readyz", get(ready))
        .route("/v1/components", get(components))
        .route("/v1/components/{component}/call", post(call))
        .route("/v1/components/{component}/invalidate", post(invalidate))
        .route("/v1/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(
            worker.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(worker)
}

async fn require_token(
    State(worker): State<Arc<Worker>>,
    request: Request,
    next: Next,
) -> Response {
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

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn host_error(failure: HostError) -> Response {
    let status = match &failure {
        HostError::Export(ExportLookupError::Ambiguous { .. })
        | HostError::ExportedBySeveral { .. } => StatusCode::BAD_REQUEST,
        HostError::UnknownComponent(_) | HostError::Export(_) | HostError::NotExported { .. } => {
            StatusCode::NOT_FOUND
        }
        HostError::Arguments { .. } | HostError::NotCached(_) => StatusCode::BAD_REQUEST,
        HostError::Call(CallError::Arguments { .. }) => StatusCode::BAD_REQUEST,
        HostError::Call(CallError::ArgumentsTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        HostError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, failure.to_string())
}

/// The OpenAPI description of the routes, kept in `host/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn ready(State(worker): State<Arc<Worker>>) -> Response {
    if worker.host.store_is_healthy() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "store unavailable; calls run uncached",
        )
            .into_response()
    }
}

async fn components(State(worker): State<Arc<Worker>>) -> Json<Value> {
    let list: Vec<Value> = worker
        .host
        .component_names()
        .into_iter()
        .filter_map(|name| worker.host.component(&name))
        .map(|component| {
            let exports: Vec<Value> = component
                .exports
                .iter()
                .map(|export| {
                    json!({
                        "path": export.path,
                        "signature": export.signature,
                        "rule": {
                            "policy": export.rule.policy.as_str(),
                            "ttl_ms": export.rule.ttl.map(|ttl| ttl.as_millis() as u64),
                            "cache_errors": export.rule.cache_errors,
                            "ignore_params": export.rule.ignore_params,
                        },
                        "cached": export.rule.policy != CachePolicy::NoCache,
                    })
                })
                .collect();
            json!({
                "name": &*component.name,
                "file": worker.catalog.path_of(&component.name).map(|p| p.display().to_string()),
                "sha256": component.code_hash_hex(),
                "imports": component.purity.imports,
                "nondeterministic": component.purity.reaches.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
                "exports": exports,
            })
        })
        .collect();
    Json(Value::Array(list))
}

/// The body of a call or an invalidation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    /// The export (any name it answers to).
    #[serde(default, deserialize_with = "present")]
    export: Option<String>,
    /// JSON arguments, one per parameter.
    #[serde(default, deserialize_with = "present")]
    args: Option<Value>,
    /// Or the whole call as WAVE text: `fetch-user(123)`.
    #[serde(default, deserialize_with = "present")]
    wave: Option<String>,
}

/// A field that, when given, holds a value: `"wave": null` is an error, not
/// an absent field.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[derive(Debug, Default, Deserialize)]
struct CallQuery {
    #[serde(default)]
    refresh: bool,
}

/// The export and arguments a body names, as the host's WAVE or JSON forms.
enum Invocation {
    Wave(String),
    Json(String, Value),
}

impl CallBody {
    /// The invocation, if the body gives exactly one of the two forms.
    fn invocation(self) -> Option<Invocation> {
        match (self.export, self.args, self.wave) {
            (None, None, Some(wave)) => Some(Invocation::Wave(wave)),
            (Some(export), Some(args), None) => Some(Invocation::Json(export, args)),
            _ => None,
        }
    }
}

async fn call(
    State(worker): State<Arc<Worker>>,
    Path(component): Path<String>,
    query: Result<Query<CallQuery>, QueryRejection>,
    body: Result<Json<CallBody>, JsonRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let Some(invocation) = body.invocation() else {
        let usage = "give either {\"export\": NAME, \"args\": [...]} or {\"wave\": \"name(args)\"}";
        return error(StatusCode::BAD_REQUEST, usage);
    };
    let options = CallOptions {
        refresh: query.refresh,
    };
    let host = &worker.host;
    let running = async {
        match &invocation {
            Invocation::Wave(wave) => host.call_wave_with(&component, wave, options).await,
            Invocation::Json(export, args) => {
                host.call_json(&component, export, args, options).await
            }
        }
    };
    let report = match tokio::time::timeout(worker.config.call_timeout, running).await {
        Ok(Ok(report)) => report,
        Ok(Err(failure)) => return host_error(failure),
        Err(_) => {
            let timeout = humantime::format_duration(worker.config.call_timeout);
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                format!("the call did not finish within {timeout}"),
            );
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-cache", HeaderValue::from_static(report.outcome.as_str()));
    if let Some(age) = report.age {
        headers.insert("age", HeaderValue::from(age.as_secs()));
        headers.insert("x-cache-age-ms", HeaderValue::from(age.as_millis() as u64));
    }
    let key = report.key.map(|key| key.short());
    if let Some(key) = key
        .as_deref()
        .and_then(|key| HeaderValue::from_str(key).ok())
    {
        headers.insert("x-cache-key", key);
    }
    let result = report.results.first().map_or(Value::Null, to_json);
    let wave = report
        .results
        .first()
        .map(|value| DisplayValue(value).to_string());
    let body =
        json!({ "result": result, "wave": wave, "outcome": report.outcome.as_str(), "key": key });
    (StatusCode::OK, headers, Json(body)).into_response()
}

async fn invalidate(
    State(worker): State<Arc<Worker>>,
    Path(component): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match invalidation_body(&headers, body) {
        Ok(body) => body,
        Err((status, message)) => return error(status, message),
    };
    let host = &worker.host;
    let done = match (body.export, body.args, body.wave) {
        (None, None, None) => host
            .invalidate_component(&component)
            .await
            .map(|()| json!({ "invalidated": "component" })),
        (Some(export), None, None) => host
            .invalidate_export(&component, &export)
            .await
            .map(|()| json!({ "invalidated": "export", "export": export })),
        (None, None, Some(wave)) => host
            .invalidate_entry_wave(&component, &wave)
            .await
            .map(|key| json!({ "invalidated": "entry", "key": key })),
        (Some(export), Some(args), None) => host
            .invalidate_entry_json(&component, &export, &args)
            .await
            .map(|key| json!({ "invalidated": "entry", "key": key })),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "give {}, {\"export\"}, {\"export\", \"args\"} or {\"wave\"}",
            );
        }
    };
    match done {
        Ok(body) => Json(body).into_response(),
        Err(failure) => host_error(failure),
    }
}

/// An invalidation's body: none at all means the whole component; anything
/// else must be a JSON [`CallBody`] (a body sent with another content type
/// is refused, never read as "everything").
fn invalidation_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<CallBody, (StatusCode, String)> {
    let bytes = body.map_err(|rejection| (rejection.status(), rejection.body_text()))?;
    if bytes.is_empty() {
        return Ok(CallBody::default());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        let message = "Expected request with `Content-Type: application/json`";
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message.to_owned()));
    }
    Json::<CallBody>::from_bytes(&bytes)
        .map(|Json(body)| body)
        .map_err(|rejection| (rejection.status(), rejection.body_text()))
}

async fn stats(State(worker): State<Arc<Worker>>) -> Json<Value> {
    let rows: Vec<Value> = worker
        .host
        .stats()
        .into_iter()
        .map(|(component, export, stats)| {
            let mut row = serde_json::Map::new();
            row.insert("component".into(), component.into());
            row.insert("export".into(), export.into());
            for (name, value) in stats.fields() {
                row.insert(name.into(), value.into());
            }
            Value::Object(row)
        })
        .collect();
    Json(Value::Array(rows))
}

async fn metrics(State(worker): State<Arc<Worker>>) -> Response {
    let host = &worker.host;
    let stats = host.stats();
    let labels = |component: &str, export: &str| {
        format!(
            "component=\"{}\",export=\"{}\"",
            escape(component),
            escape(export)
        )
    };
    let mut text = String::new();
    family(
        &mut text,
        "activity_host_calls_total",
        "counter",
        "Calls by how they were served.",
    );
    for (component, export, s) in &stats {
        let outcomes = [
            ("hit", s.hits),
            ("miss", s.misses),
            ("bypass", s.bypasses),
            ("degraded", s.degraded),
            ("error", s.errors),
        ];
        for (outcome, value) in outcomes {
            let labels = labels(component, export);
            let _ = writeln!(
                text,
                "activity_host_calls_total{{{labels},outcome=\"{outcome}\"}} {value}"
            );
        }
    }
    let per_export = [
        (
            "activity_host_single_flight_waits_total",
            "Calls that waited for a concurrent identical call.",
        ),
        (
            "activity_host_stored_bytes_total",
            "Bytes of results written to the store.",
        ),
    ];
    for (index, (name, help)) in per_export.into_iter().enumerate() {
        family(&mut text, name, "counter", help);
        for (component, export, s) in &stats {
            let value = if index == 0 { s.waits } else { s.stored_bytes };
            let _ = writeln!(text, "{name}{{{}}} {value}", labels(component, export));
        }
    }
    let calls = "activity_host_call_duration_seconds";
    family(
        &mut text,
        calls,
        "histogram",
        "Call latency, whatever the outcome.",
    );
    for (component, export, counters) in host.counters() {
        histogram(
            &mut text,
            calls,
            &labels(&component, &export),
            &counters.latency,
        );
    }
    let store = "activity_host_store_duration_seconds";
    family(
        &mut text,
        store,
        "histogram",
        "Latency of store lookups (get) and writes (set).",
    );
    histogram(&mut text, store, "op=\"get\"", &host.store_latency().get);
    histogram(&mut text, store, "op=\"set\"", &host.store_latency().set);
    family(
        &mut text,
        "activity_host_store_up",
        "gauge",
        "Whether the store is reachable.",
    );
    let _ = writeln!(
        text,
        "activity_host_store_up {}",
        u8::from(host.store_is_healthy())
    );
    let warm = "activity_host_instances_warm";
    family(
        &mut text,
        warm,
        "gauge",
        "Warm instances per component in actor mode.",
    );
    for (component, count) in host.warm_instances() {
        let _ = writeln!(
            text,
            "{warm}{{component=\"{}\"}} {count}",
            escape(&component)
        );
    }
    family(
        &mut text,
        "activity_host_components",
        "gauge",
        "Components loaded.",
    );
    let _ = writeln!(
        text,
        "activity_host_components {}",
        host.component_names().len()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn histogram(text: &mut String, name: &str, labels: &str, latency: &LatencyHistogram) {
    let (buckets, count, sum_us) = latency.snapshot();
    for (bound_us, cumulative) in buckets {
        let le = bound_us as f64 / 1e6;
        let _ = writeln!(text, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(text, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(text, "{name}_sum{{{labels}}} {}", sum_us as f64 / 1e6);
    let _ = writeln!(text, "{name}_count{{{labels}}} {count}");
}

fn family(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

/// Escapes a Prometheus label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
