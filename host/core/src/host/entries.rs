//! What a [`Host`]'s stores hold: listing the entries of a component, a
//! page at a time, and evicting one by its key.

use super::Host;
use crate::error::HostError;
use crate::event_line;
use crate::key::CacheKey;
use crate::store::{EntryPage, EntryQuery, StoreErrorKind};

impl Host {
    /// One page of the entries of `query`'s component (and export), from
    /// every store the host has (its own first, then the named ones). Pass
    /// the page's [`EntryPage::next`] as the next query's cursor.
    ///
    /// The export may be named as calls name it when the component is
    /// loaded (`fetch-user`); otherwise give its full path.
    pub async fn entries(&self, query: EntryQuery<'_>) -> Result<EntryPage, HostError> {
        let loaded = self.component(query.component);
        let export = match (&loaded, query.export) {
            (Some(component), Some(name)) => Some(component.export(name)?.path.as_str()),
            (_, export) => export,
        };
        let query = EntryQuery { export, ..query };
        let stores: Vec<_> = self.memo.stores().all().collect();
        let (mut position, mut inner) = match query.cursor {
            None => (0, None),
            Some(cursor) => parse_cursor(cursor, stores.len())?,
        };
        while let Some(store) = stores.get(position) {
            let store_query = EntryQuery {
                cursor: inner.take(),
                ..query
            };
            let page = match store.entries(store_query).await {
                Ok(page) => page,
                // A store of the embedder's that cannot list: skipped.
                Err(error) if error.kind == StoreErrorKind::Unsupported => EntryPage::default(),
                Err(error) => return Err(error.into()),
            };
            if let Some(next) = page.next {
                let next = Some(format!("{position}.{next}"));
                return Ok(EntryPage { next, ..page });
            }
            position += 1;
            if !page.entries.is_empty() {
                let next = (position < stores.len()).then(|| format!("{position}."));
                return Ok(EntryPage { next, ..page });
            }
        }
        Ok(EntryPage::default())
    }

    /// Removes the entry under `key` (the full hex digest a listing shows)
    /// from every store, whatever its component; returns whether one was
    /// there.
    pub async fn evict(&self, key: &str) -> Result<bool, HostError> {
        let parsed = CacheKey::from_hex(key).ok_or_else(|| HostError::Arguments {
            text: key.to_owned(),
            message: "not a cache key: expected its 64 hex digits, as `entries` lists it".into(),
        })?;
        let mut evicted = false;
        for store in self.memo.stores().all() {
            evicted |= store.remove(&parsed).await?;
        }
        if evicted {
            event_line::invalidated(
                self.front_end,
                None,
                None,
                Some(parsed.short_hex().as_str()),
            );
        }
        Ok(evicted)
    }
}

/// The store position and the store's own cursor in a cursor made by
/// [`Host::entries`] (`POSITION.STORE_CURSOR`).
fn parse_cursor(cursor: &str, stores: usize) -> Result<(usize, Option<&str>), HostError> {
    let invalid = || HostError::Arguments {
        text: cursor.to_owned(),
        message: "not a cursor of this host's listing (pass a page's `next` as it is)".into(),
    };
    let (position, inner) = cursor.split_once('.').ok_or_else(invalid)?;
    let position: usize = position.parse().map_err(|_| invalid())?;
    if position >= stores {
        return Err(invalid());
    }
    Ok((position, Some(inner).filter(|inner| !inner.is_empty())))
}
