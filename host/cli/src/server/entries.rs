//! The routes that list a component's cached entries and evict one.

use std::sync::Arc;

use activity_host::{EntryQuery, HostError, StoredEntry};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{App, error, host_error};

/// Entries in a page when the query does not say.
const DEFAULT_PAGE: usize = 100;

/// Most entries in a page.
const MAX_PAGE: usize = 1000;

/// One entry as `GET /v1/components/{name}/entries` and
/// `activity-host entries --json` show it.
#[derive(Debug, Deserialize, Serialize)]
pub struct EntryJson {
    /// The component's name.
    pub component: String,
    /// The export's path.
    pub export: String,
    /// The full key (what `DELETE /v1/entries/{key}` takes).
    pub key: String,
    /// The stored result's size.
    pub bytes: u64,
    /// Milliseconds since it was stored.
    pub age_ms: u64,
    /// Milliseconds until it expires (`null`: no TTL).
    pub ttl_left_ms: Option<u64>,
    /// Lookups that found it since it was stored.
    pub hits: u64,
}

impl From<&StoredEntry> for EntryJson {
    fn from(entry: &StoredEntry) -> Self {
        Self {
            component: entry.component.clone(),
            export: entry.export.clone(),
            key: entry.key.to_string(),
            bytes: entry.bytes,
            age_ms: entry.age.as_millis() as u64,
            ttl_left_ms: entry.ttl_left.map(|left| left.as_millis() as u64),
            hits: entry.hits,
        }
    }
}

/// The query of a listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// Only this export's entries.
    export: Option<String>,
    /// The previous page's `next`.
    cursor: Option<String>,
    /// Entries per page (default 100, at most 1000).
    limit: Option<usize>,
}

pub(super) async fn list(
    State(worker): State<Arc<App>>,
    Path(component): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be between 1 and {MAX_PAGE}, not {limit}"),
        );
    }
    let host = &worker.host;
    if host.component(&component).is_none() {
        return host_error(HostError::UnknownComponent(component));
    }
    let page = host
        .entries(EntryQuery {
            component: &component,
            export: query.export.as_deref(),
            cursor: query.cursor.as_deref(),
            limit,
        })
        .await;
    match page {
        Ok(page) => {
            let entries: Vec<EntryJson> = page.entries.iter().map(EntryJson::from).collect();
            Json(json!({ "entries": entries, "next": page.next })).into_response()
        }
        Err(failure) => host_error(failure),
    }
}

pub(super) async fn evict(State(worker): State<Arc<App>>, Path(key): Path<String>) -> Response {
    match worker.host.evict(&key).await {
        Ok(true) => Json(json!({ "evicted": key })).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no entry under key {key}")),
        Err(failure) => host_error(failure),
    }
}
