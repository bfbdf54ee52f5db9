//! The worker's page, `GET /ui`: what it serves and what its cache did in
//! the last minutes, in a browser. Server-rendered HTML that reads with
//! JavaScript off; `ui.js` adds the live list of calls (Server-Sent Events)
//! and refreshes counters and charts. Its assets are embedded in the binary.
//!
//! | route | what |
//! |---|---|
//! | `GET /ui` | components, exports (rules, counters, hit ratio, p50/p99, chart), recent calls and events |
//! | `GET /ui/components/{name}/entries[?export=&cursor=]` | a page of cached entries, each with an evict button |
//! | `POST /ui/components/{name}/invalidate` | form `export=PATH` (an export) or `all=true` (the component) |
//! | `POST /ui/entries/{key}/evict` | form `back=/ui/…` (where to return) |
//! | `GET /ui/calls/live` | `text/event-stream`: each call's table row as it ends |
//! | `GET /ui/assets/ui.css`, `/ui/assets/ui.js` | the embedded assets |
//! | `GET`, `POST /ui/login` | with `--token`: the form that asks for it once |
//!
//! With a token, the page needs it once: `/ui/login` checks it and sets an
//! `HttpOnly`, `SameSite=Strict` cookie (path `/ui`) holding its sha256, not
//! the token. Forms that change state are refused from another origin.

mod chart;
mod page;

use std::convert::Infallible;
use std::sync::Arc;

use activity_host::{EntryQuery, HostError};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use super::{App, constant_time_eq, status_of};

/// The cookie that carries the token's sha256 for the page.
const COOKIE: &str = "activity-host-ui";

/// Entries in a page of the entries list.
const ENTRIES_PER_PAGE: usize = 100;

/// The page's routes (the login form outside the cookie check).
pub(super) fn router(app: Arc<App>) -> Router<Arc<App>> {
    let guarded = Router::new()
        .route("/ui", get(dashboard))
        .route("/ui/components/{component}/entries", get(entries))
        .route("/ui/components/{component}/invalidate", post(invalidate))
        .route("/ui/entries/{key}/evict", post(evict))
        .route("/ui/calls/live", get(live_calls))
        .layer(middleware::from_fn_with_state(app, require_login));
    Router::new()
        .route("/ui/", get(|| async { Redirect::permanent("/ui") }))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/assets/ui.css", get(stylesheet))
        .route("/ui/assets/ui.js", get(script))
        .merge(guarded)
}

/// A confirmation (or failure) shown at the top of the page after an
/// action: a fixed sentence per kind, naming its target.
#[derive(Debug, Default, Deserialize)]
struct Notice {
    notice: Option<String>,
    target: Option<String>,
}

impl Notice {
    fn text(&self) -> Option<String> {
        let target = self.target.as_deref().unwrap_or("");
        Some(match self.notice.as_deref()? {
            "invalidated" => {
                format!("Invalidated {target}: its next calls miss (reason `invalidated`).")
            }
            "evicted" => format!("Evicted entry {target}."),
            "gone" => format!("No entry under {target} (already expired or evicted)."),
            "failed" => {
                format!("Could not change {target}: the store failed (see the worker's log).")
            }
            _ => return None,
        })
    }

    /// `?notice=KIND&target=TARGET` for a redirect.
    fn query(kind: &str, target: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("notice", kind)
            .append_pair("target", target)
            .finish()
    }
}

async fn dashboard(State(app): State<Arc<App>>, Query(notice): Query<Notice>) -> Response {
    let host = &app.host;
    let loaded: Vec<_> = host
        .component_names()
        .into_iter()
        .filter_map(|name| host.component(&name))
        .collect();
    let stats = host.stats();
    let views: Vec<page::ComponentView<'_>> = loaded
        .iter()
        .map(|component| page::ComponentView {
            component,
            file: app
                .catalog
                .path_of(&component.name)
                .map(|path| path.display().to_string()),
            stats: &stats,
        })
        .collect();
    let notice = notice.text();
    let overview = page::Overview {
        last_minutes: app.recent.last_minutes(),
        store: &app.store,
        store_healthy: host.store_is_healthy(),
        notice: notice.as_deref(),
    };
    page::dashboard(&overview, &views, &app.recent).into_response()
}

#[derive(Debug, Deserialize)]
struct EntriesQuery {
    export: Option<String>,
    cursor: Option<String>,
    #[serde(flatten)]
    notice: Notice,
}

async fn entries(
    State(app): State<Arc<App>>,
    Path(component): Path<String>,
    Query(query): Query<EntriesQuery>,
) -> Response {
    if app.host.component(&component).is_none() {
        return (
            StatusCode::NOT_FOUND,
            format!("no component named `{component}`"),
        )
            .into_response();
    }
    let export = query.export.as_deref().filter(|e| !e.is_empty());
    let listed = app
        .host
        .entries(EntryQuery {
            component: &component,
            export,
            cursor: query.cursor.as_deref(),
            limit: ENTRIES_PER_PAGE,
        })
        .await;
    match listed {
        Ok(listed) => {
            let notice = query.notice.text();
            let next = listed.next.as_deref();
            page::entries(&component, export, &listed.entries, next, notice.as_deref())
                .into_response()
        }
        Err(failure) => failure_text(failure),
    }
}

#[derive(Debug, Deserialize)]
struct InvalidateForm {
    export: Option<String>,
    all: Option<String>,
}

async fn invalidate(
    State(app): State<Arc<App>>,
    Path(component): Path<String>,
    headers: HeaderMap,
    Form(form): Form<InvalidateForm>,
) -> Response {
    if let Some(refused) = refuse_other_origins(&headers) {
        return refused;
    }
    if app.host.component(&component).is_none() {
        return (
            StatusCode::NOT_FOUND,
            format!("no component named `{component}`"),
        )
            .into_response();
    }
    let (done, target) = match (form.export, form.all.as_deref()) {
        (Some(export), _) => {
            let done = app.host.invalidate_export(&component, &export).await;
            (done, format!("{component} {export}"))
        }
        (None, Some("true")) => (
            app.host.invalidate_component(&component).await,
            component.clone(),
        ),
        _ => {
            let usage = "say what to invalidate: export=PATH, or all=true for the whole component";
            return (StatusCode::BAD_REQUEST, usage).into_response();
        }
    };
    let kind = match done {
        Ok(()) => "invalidated",
        Err(HostError::Store(_)) => "failed",
        Err(failure) => return failure_text(failure),
    };
    let back = format!("/ui?{}#component-{component}", Notice::query(kind, &target));
    Redirect::to(&back).into_response()
}

#[derive(Debug, Deserialize)]
struct EvictForm {
    back: Option<String>,
}

async fn evict(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EvictForm>,
) -> Response {
    if let Some(refused) = refuse_other_origins(&headers) {
        return refused;
    }
    let kind = match app.host.evict(&key).await {
        Ok(true) => "evicted",
        Ok(false) => "gone",
        Err(HostError::Store(_)) => "failed",
        Err(failure) => return failure_text(failure),
    };
    // Back to a page of this UI only, never elsewhere.
    let back = form
        .back
        .filter(|back| back.starts_with("/ui") && !back.contains("//"))
        .unwrap_or_else(|| "/ui".to_owned());
    let separator = if back.contains('?') { '&' } else { '?' };
    let back = format!("{back}{separator}{}", Notice::query(kind, &key));
    Redirect::to(&back).into_response()
}

/// Each call's row as it ends, for the live list, until the worker stops.
async fn live_calls(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut stopping = app.stopping.clone();
    let stopped = async move {
        // An error: the worker is gone already.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    let calls = futures_util::stream::unfold(app.recent.subscribe(), |mut calls| async move {
        loop {
            match calls.recv().await {
                Ok(call) => {
                    let row = page::call_row(&call).into_string();
                    return Some((Ok(Event::default().event("call").data(row)), calls));
                }
                // A slow page skips what it missed; the next reload has it.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(calls.take_until(stopped)).keep_alive(KeepAlive::default())
}

async fn stylesheet() -> Response {
    let css = include_str!("ui.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}

async fn script() -> Response {
    let js = include_str!("ui.js");
    let content_type = "text/javascript; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], js).into_response()
}

async fn login_form(State(app): State<Arc<App>>) -> Response {
    match app.config.token {
        None => Redirect::to("/ui").into_response(),
        Some(_) => page::login(false).into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Arc<App>>, Form(form): Form<LoginForm>) -> Response {
    let Some(token) = &app.config.token else {
        return Redirect::to("/ui").into_response();
    };
    if !constant_time_eq(form.token.as_bytes(), token.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, page::login(true)).into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict",
        fingerprint(token)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui")).into_response()
}

/// Lets a request through if the worker has no token, or the page's
/// cookie matches it; else answers with the login form.
async fn require_login(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(token) = &app.config.token else {
        return next.run(request).await;
    };
    let expected = fingerprint(token);
    let given = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value);
    if given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, page::login(false)).into_response()
    }
}

/// The cookie's value: the token's sha256 (the browser never holds the
/// token itself).
fn fingerprint(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A 403 for a form posted from another site's page (a browser says where
/// a form came from in `Origin`), so no page elsewhere can invalidate.
fn refuse_other_origins(headers: &HeaderMap) -> Option<Response> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    if origin_host.is_some() && origin_host == host {
        return None;
    }
    let refused = format!("refused: a form from {origin} may not change this worker's cache");
    Some((StatusCode::FORBIDDEN, refused).into_response())
}

/// A failure as plain text, with the API's status for it.
fn failure_text(failure: HostError) -> Response {
    (status_of(&failure), failure.to_string()).into_response()
}
