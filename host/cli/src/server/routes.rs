//! The routes that list, call and invalidate components, and report counters.

use std::sync::Arc;

use activity_host::wasm_wave::wasm::DisplayValue;
use activity_host::{
    CachePolicy, CallOptions, CallReport, Host, HostError, StatsRow, to_json, wave_name,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{App, error, host_error};

pub(super) async fn components(State(worker): State<Arc<App>>) -> Json<Value> {
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
pub(super) struct CallBody {
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
pub(super) struct CallQuery {
    #[serde(default)]
    refresh: bool,
    /// Run nothing: answer what the call would do.
    #[serde(default)]
    explain: bool,
    /// The export an `application/octet-stream` body is the argument of.
    export: Option<String>,
}

/// `application/octet-stream`: raw bytes in (the one `list<u8>` argument)
/// or out (the one `list<u8>` result).
const BYTES: &str = "application/octet-stream";

/// Whether the request's body is raw bytes.
fn sends_bytes(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(BYTES))
}

/// Whether the client asks for raw bytes: `Accept` names
/// `application/octet-stream` before any JSON type.
fn wants_bytes(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next()?;
            // `q=0` refuses the type.
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse() == Ok(0.0)));
            (!refused).then_some(media)
        })
        .find(|media| media.eq_ignore_ascii_case(BYTES) || media.ends_with("json"))
        .is_some_and(|media| media.eq_ignore_ascii_case(BYTES))
}

/// The 406 answer when the client asks for bytes of an export that does not
/// return one `list<u8>` (checked before the call runs); `None` to go on.
fn unacceptable(host: &Host, component: &str, export: &str) -> Option<Response> {
    let handle = host.export(component, export).ok()?;
    let export = handle.export();
    (!export.returns_bytes()).then(|| {
        let message = format!(
            "`{}` does not return one list<u8> ({}): ask for application/json",
            export.name, export.signature
        );
        error(StatusCode::NOT_ACCEPTABLE, message)
    })
}

/// The export and arguments a body names, as the host's WAVE or JSON forms.
enum Invocation {
    Wave(String),
    Json(String, Value),
}

impl CallBody {
    /// The body from a JSON object's fields (never from an array, which
    /// serde would also read as a struct).
    fn from_fields(fields: Map<String, Value>) -> Result<Self, (StatusCode, String)> {
        serde_json::from_value(Value::Object(fields)).map_err(|error| {
            let message =
                format!("Failed to deserialize the JSON body into the target type: {error}");
            (StatusCode::UNPROCESSABLE_ENTITY, message)
        })
    }

    /// The invocation, if the body gives exactly one of the two forms.
    fn invocation(self) -> Option<Invocation> {
        match (self.export, self.args, self.wave) {
            (None, None, Some(wave)) => Some(Invocation::Wave(wave)),
            (Some(export), Some(args), None) => Some(Invocation::Json(export, args)),
            _ => None,
        }
    }
}

/// The arguments of a call that gives an export and no `args`: none, if
/// the export takes none; else the answer saying what is missing.
fn no_arguments(host: &Host, component: &str, export: &str) -> Result<Value, Box<Response>> {
    let handle = host
        .export(component, export)
        .map_err(|failure| Box::new(host_error(failure)))?;
    let export = handle.export();
    match export.param_types.len() {
        0 => Ok(Value::Array(Vec::new())),
        count => {
            let arguments = if count == 1 { "argument" } else { "arguments" };
            let message = format!(
                "give \"args\" (or \"wave\"): `{}` takes {count} {arguments} ({})",
                export.name, export.signature
            );
            Err(Box::new(error(StatusCode::BAD_REQUEST, message)))
        }
    }
}

pub(super) async fn call(
    State(worker): State<Arc<App>>,
    Path(component): Path<String>,
    query: Result<Query<CallQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let options = CallOptions::default()
        .with_refresh(query.refresh)
        .with_timeout(worker.config.call_timeout);
    let as_bytes = wants_bytes(&headers);
    let called = if sends_bytes(&headers) {
        let Some(export) = &query.export else {
            let usage = "an application/octet-stream body is the argument of the export \
                         named in the query: ?export=NAME";
            return error(StatusCode::BAD_REQUEST, usage);
        };
        if query.explain {
            let usage = "explain takes the call as JSON or WAVE";
            return error(StatusCode::BAD_REQUEST, usage);
        }
        if as_bytes && let Some(refused) = unacceptable(&worker.host, &component, export) {
            return refused;
        }
        // Read frame by frame into one growing buffer: collecting the
        // frames first and joining them would hold the body twice.
        let bytes = match BytesMut::from_request(request, &()).await {
            Ok(bytes) => bytes,
            Err(rejection) => return error(rejection.status(), rejection.body_text()),
        };
        worker
            .host
            .call_bytes(&component, export, &bytes, options)
            .await
    } else {
        if query.export.is_some() {
            let usage = "?export= names the export of an application/octet-stream body; \
                         a JSON body names its own";
            return error(StatusCode::BAD_REQUEST, usage);
        }
        let body = Json::<Map<String, Value>>::from_request(request, &()).await;
        match call_json_body(&worker, &component, &query, body, as_bytes, options).await {
            Ok(called) => called,
            Err(answered) => return *answered,
        }
    };
    let report = match called {
        Ok(report) => report,
        Err(failure) => return host_error(failure),
    };
    answer(&report, as_bytes)
}

/// The call a JSON body gives (`{"export", "args"}` or `{"wave"}`), made;
/// or the answer that ends the request (a bad body, an explanation).
async fn call_json_body(
    worker: &App,
    component: &str,
    query: &CallQuery,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
    as_bytes: bool,
    options: CallOptions,
) -> Result<Result<CallReport, HostError>, Box<Response>> {
    let refuse = |status: StatusCode, message: &str| Box::new(error(status, message.to_owned()));
    let mut body = match body {
        Ok(Json(fields)) => match CallBody::from_fields(fields) {
            Ok(body) => body,
            Err((status, message)) => return Err(refuse(status, &message)),
        },
        Err(JsonRejection::MissingJsonContentType(_)) => {
            let message = "expected Content-Type: application/json (or \
                           application/octet-stream with ?export=NAME)";
            return Err(refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
        }
        Err(rejection) => return Err(refuse(rejection.status(), &rejection.body_text())),
    };
    if let (Some(export), None, None) = (&body.export, &body.args, &body.wave) {
        body.args = Some(no_arguments(&worker.host, component, export)?);
    }
    let Some(invocation) = body.invocation() else {
        let usage = "give either {\"export\": NAME, \"args\": [...]} or {\"wave\": \"name(args)\"}";
        return Err(refuse(StatusCode::BAD_REQUEST, usage));
    };
    let host = &worker.host;
    if as_bytes {
        let export = match &invocation {
            Invocation::Wave(wave) => wave_name(wave),
            Invocation::Json(export, _) => export.as_str(),
        };
        if let Some(refused) = unacceptable(host, component, export) {
            return Err(Box::new(refused));
        }
    }
    if query.explain {
        let explained = match &invocation {
            Invocation::Wave(wave) => host.explain_wave(component, wave).await,
            Invocation::Json(export, args) => host.explain_json(component, export, args).await,
        };
        return Err(Box::new(match explained {
            Ok(explanation) => Json(json!({ "explain": explanation })).into_response(),
            Err(failure) => host_error(failure),
        }));
    }
    Ok(match &invocation {
        Invocation::Wave(wave) => host.call_wave_with(component, wave, options).await,
        Invocation::Json(export, args) => host.call_json(component, export, args, options).await,
    })
}

/// The answer to a call: its result as JSON (and WAVE), or, if the client
/// asked for `application/octet-stream`, as raw bytes; the cache headers.
fn answer(report: &CallReport, as_bytes: bool) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(X_CACHE, HeaderValue::from_static(report.outcome.as_str()));
    if let Some(reason) = report.reason {
        headers.insert(X_CACHE_REASON, HeaderValue::from_static(reason.as_str()));
    }
    if let Some(age) = report.age {
        headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
        headers.insert(X_CACHE_AGE_MS, HeaderValue::from(age.as_millis() as u64));
    }
    let key = report.key.map(|key| key.short());
    if let Some(key) = key
        .as_deref()
        .and_then(|key| HeaderValue::from_str(key).ok())
    {
        headers.insert(X_CACHE_KEY, key);
    }
    if as_bytes {
        let Some(bytes) = report.result_bytes() else {
            let message = "the result is not one list<u8>: ask for application/json";
            return error(StatusCode::NOT_ACCEPTABLE, message);
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(BYTES));
        return (StatusCode::OK, headers, bytes).into_response();
    }
    let first = report.results().first();
    let body = Answer {
        key: key.as_deref(),
        outcome: report.outcome.as_str(),
        reason: report.reason.map(|reason| reason.as_str()),
        result: first.map_or(Value::Null, to_json),
        wave: first.map(|value| DisplayValue(value).to_string()),
    };
    (StatusCode::OK, headers, Json(body)).into_response()
}

/// The JSON body of a call's answer (fields in this order).
#[derive(Serialize)]
struct Answer<'a> {
    /// The short cache key, unless the call bypassed the cache.
    key: Option<&'a str>,
    /// `hit`, `miss`, `bypass` or `degraded`.
    outcome: &'static str,
    /// On a miss: why.
    reason: Option<&'static str>,
    /// The first result as JSON (`null` if none).
    result: Value,
    /// The first result as WAVE text.
    wave: Option<String>,
}

// The cache headers of a call's answer, named once rather than parsed per
// answer.
const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const X_CACHE_REASON: HeaderName = HeaderName::from_static("x-cache-reason");
const X_CACHE_AGE_MS: HeaderName = HeaderName::from_static("x-cache-age-ms");
const X_CACHE_KEY: HeaderName = HeaderName::from_static("x-cache-key");

pub(super) async fn invalidate(
    State(worker): State<Arc<App>>,
    Path(component): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let host = &worker.host;
    if host.component(&component).is_none() {
        return host_error(HostError::UnknownComponent(component));
    }
    let (body, all) = match invalidation_body(&headers, body) {
        Ok(parsed) => parsed,
        Err((status, message)) => return error(status, message),
    };
    let done = match (all, body.export, body.args, body.wave) {
        (true, None, None, None) => host
            .invalidate_component(&component)
            .await
            .map(|()| json!({ "invalidated": "component" })),
        (false, Some(export), None, None) => host
            .invalidate_export(&component, &export)
            .await
            .map(|()| json!({ "invalidated": "export", "export": export })),
        (false, None, None, Some(wave)) => host
            .invalidate_entry_wave(&component, &wave)
            .await
            .map(|key| json!({ "invalidated": "entry", "key": key })),
        (false, Some(export), Some(args), None) => host
            .invalidate_entry_json(&component, &export, &args)
            .await
            .map(|key| json!({ "invalidated": "entry", "key": key })),
        _ => return error(StatusCode::BAD_REQUEST, WHAT_TO_INVALIDATE),
    };
    match done {
        Ok(body) => Json(body).into_response(),
        Err(failure) => host_error(failure),
    }
}

/// The answer to an invalidation that does not say what to invalidate.
const WHAT_TO_INVALIDATE: &str = "say what to invalidate: {\"all\": true} (the whole component), \
     {\"export\"} (an export), {\"export\", \"args\"} or {\"wave\"} (one entry)";

/// An invalidation's body and whether it asks for the whole component
/// (`"all": true`). It must be JSON and say what to invalidate: no body, or
/// `{}`, is refused, never read as "everything".
fn invalidation_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(CallBody, bool), (StatusCode, String)> {
    let bytes = body.map_err(|rejection| (rejection.status(), rejection.body_text()))?;
    if bytes.is_empty() {
        return Err((StatusCode::BAD_REQUEST, WHAT_TO_INVALIDATE.to_owned()));
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        let message = "Expected request with `Content-Type: application/json`";
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message.to_owned()));
    }
    let Json(mut fields) = Json::<Map<String, Value>>::from_bytes(&bytes)
        .map_err(|rejection| (rejection.status(), rejection.body_text()))?;
    let all = match fields.remove("all") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err((StatusCode::BAD_REQUEST, WHAT_TO_INVALIDATE.to_owned())),
    };
    Ok((CallBody::from_fields(fields)?, all))
}

pub(super) async fn stats(State(worker): State<Arc<App>>) -> Json<Value> {
    Json(stats_json(&worker.host.stats()))
}

/// Counters as a JSON array: per export, `component`, `export` and every
/// counter (`GET /v1/stats`, `activity-host stats --json`).
pub(crate) fn stats_json(rows: &[StatsRow]) -> Value {
    rows.iter()
        .map(|(component, export, stats)| {
            let mut row = serde_json::Map::new();
            row.insert("component".into(), component.as_str().into());
            row.insert("export".into(), export.as_str().into());
            for (name, value) in stats.fields() {
                row.insert(name.into(), value.into());
            }
            Value::Object(row)
        })
        .collect()
}
