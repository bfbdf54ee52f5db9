//! The index of Redis entries per export: what a listing reads, so that
//! listing a component stays cheap in a store with millions of keys.
//!
//! Every index key has the component's hash tag (one cluster slot):
//!
//! | key | holds |
//! |---|---|
//! | `P:x:{COMPONENT}` | set: the exports with an index |
//! | `P:i:{COMPONENT}#EXPORT` | sorted set: entry keys (32 bytes) by expiry (Unix ms; `+inf`: none) |
//! | `P:t:{COMPONENT}#EXPORT` | hash: entry key → when it was stored (Unix ms) |
//! | `P:h:{COMPONENT}#EXPORT` | hash: entry key → hits since it was stored |
//!
//! Writing an entry indexes it (and drops up to 32 expired members), in the
//! round trip of the write; invalidating an export or component drops its
//! index with the generation bump. A listing reads the index a `ZSCAN` batch
//! at a time and reads each listed entry's 24-byte header: members whose
//! entry is gone (removed, evicted by Redis, expired, or written under an
//! older generation) are skipped and dropped. Hits are counted in this
//! process and added to the index at each flush.

use std::sync::Mutex;
use std::time::Duration;

use ::redis::AsyncCommands;
use futures_util::future::try_join_all;
use rustc_hash::FxHashMap;

use super::{HEADER_BYTES, Header, RedisStore};
use crate::key::CacheKey;
use crate::store::{EntryPage, EntryQuery, Slot, StoreError, StoreErrorKind, StoredEntry};

/// Most entries whose hits one process counts between two flushes (hits
/// of further entries are not counted).
const PENDING_HITS_BOUND: usize = 100_000;

/// The index keys of one export.
pub(super) struct IndexKeys {
    /// Entry keys by expiry.
    pub entries: String,
    /// When each entry was stored.
    pub stored: String,
    /// Each entry's hits.
    pub hits: String,
}

impl IndexKeys {
    fn all(self) -> [String; 3] {
        [self.entries, self.stored, self.hits]
    }
}

/// Hits counted in this process, not yet added to the index.
#[derive(Default)]
pub(super) struct PendingHits(Mutex<FxHashMap<CacheKey, PendingHit>>);

struct PendingHit {
    component: String,
    export: String,
    count: u64,
}

impl PendingHits {
    /// Counts a hit on the entry in `slot`.
    pub fn count(&self, slot: Slot<'_>) {
        let mut pending = self.lock();
        add_hits(&mut pending, slot.key, slot.component, slot.export, 1);
    }

    /// Counts `hits` again (they could not be written), as far as the bound
    /// allows.
    fn restore(&self, component: &str, export: &str, hits: &[(CacheKey, u64)]) {
        let mut pending = self.lock();
        for (key, count) in hits {
            add_hits(&mut pending, key, component, export, *count);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<CacheKey, PendingHit>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every hit counted so far, by (component, export); none are kept.
    fn take(&self) -> FxHashMap<(String, String), Vec<(CacheKey, u64)>> {
        let pending = std::mem::take(&mut *self.lock());
        let mut by_export: FxHashMap<_, Vec<_>> = FxHashMap::default();
        for (key, hit) in pending {
            by_export
                .entry((hit.component, hit.export))
                .or_default()
                .push((key, hit.count));
        }
        by_export
    }
}

/// Adds `count` hits on `key` (of `export` of `component`); a key not yet
/// counted is dropped once the bound is reached.
fn add_hits(
    pending: &mut FxHashMap<CacheKey, PendingHit>,
    key: &CacheKey,
    component: &str,
    export: &str,
    count: u64,
) {
    if let Some(hit) = pending.get_mut(key) {
        hit.count += count;
    } else if pending.len() < PENDING_HITS_BOUND {
        let hit = PendingHit {
            component: component.to_owned(),
            export: export.to_owned(),
            count,
        };
        pending.insert(*key, hit);
    }
}

/// Where a listing of one component resumes: a `ZSCAN` cursor in an export.
struct Position {
    export: String,
    scan: u64,
}

impl Position {
    fn parse(cursor: &str) -> Option<Self> {
        let (scan, export) = cursor.split_once('-')?;
        let export = String::from_utf8(hex::decode(export).ok()?).ok()?;
        Some(Self {
            export,
            scan: scan.parse().ok()?,
        })
    }

    fn cursor(&self) -> String {
        format!("{}-{}", self.scan, hex::encode(&self.export))
    }
}

/// One `ZSCAN` batch of an export's index, as [`LIST_SCRIPT`](super::scripts::LIST_SCRIPT)
/// returns it.
type Batch = (u64, (u64, u64, u64), Vec<Vec<u8>>, Vec<u64>, Vec<u64>);

impl RedisStore {
    fn indexed_exports_key(&self, component: &str) -> String {
        format!("{}:x:{{{component}}}", self.prefix)
    }

    /// The index keys of `export` of `component`.
    pub(super) fn index_keys(&self, component: &str, export: &str) -> IndexKeys {
        let key = |kind: char| format!("{}:{kind}:{{{component}}}#{export}", self.prefix);
        IndexKeys {
            entries: key('i'),
            stored: key('t'),
            hits: key('h'),
        }
    }

    /// Indexes the entry written in `slot` for `ttl`; returns the current
    /// generations of its component and export.
    pub(super) async fn index(
        &self,
        slot: Slot<'_>,
        ttl: Option<Duration>,
    ) -> Result<(u64, u64), StoreError> {
        let keys = self.index_keys(slot.component, slot.export);
        let mut invocation = self.index_script.prepare_invoke();
        invocation
            .key(self.indexed_exports_key(slot.component))
            .key(keys.entries)
            .key(keys.stored)
            .key(keys.hits)
            .key(self.component_generation_key(slot.component))
            .key(self.export_generation_key(slot.component, slot.export))
            .arg(slot.export)
            .arg(&slot.key.as_bytes()[..])
            .arg(ttl.map_or(0, |ttl| ttl.as_millis().max(1) as u64));
        let mut connection = self.connection();
        self.guarded(invocation.invoke_async(&mut connection)).await
    }

    /// The keys and exports [`INVALIDATE_SCRIPT`](super::scripts::INVALIDATE_SCRIPT)
    /// drops with a generation bump: the index of `export`, or of every
    /// indexed export of `component` if `None`.
    pub(super) async fn index_to_drop(
        &self,
        component: &str,
        export: Option<&str>,
    ) -> Result<(String, Vec<String>, Vec<String>), StoreError> {
        let exports = match export {
            Some(export) => vec![export.to_owned()],
            None => {
                let mut connection = self.connection();
                let set = self.indexed_exports_key(component);
                self.guarded(connection.smembers(set)).await?
            }
        };
        let keys = exports
            .iter()
            .flat_map(|export| self.index_keys(component, export).all())
            .collect();
        Ok((self.indexed_exports_key(component), exports, keys))
    }

    /// Adds the hits counted since the last flush to the index; those that
    /// could not be written wait for the next flush (a write that timed out
    /// but reached Redis is then counted twice: a hit count is a figure to
    /// read, not an account).
    pub(super) async fn flush_hits(&self) -> Result<(), StoreError> {
        let requests = self
            .hits
            .take()
            .into_iter()
            .map(|((component, export), hits)| {
                let keys = self.index_keys(&component, &export);
                let mut invocation = self.hits_script.prepare_invoke();
                invocation.key(keys.entries).key(keys.hits);
                for (key, count) in &hits {
                    invocation.arg(&key.as_bytes()[..]).arg(*count);
                }
                let mut connection = self.connection();
                async move {
                    let written = self
                        .guarded(invocation.invoke_async::<i64>(&mut connection))
                        .await;
                    if written.is_err() {
                        self.hits.restore(&component, &export, &hits);
                    }
                    written
                }
            });
        try_join_all(requests).await?;
        Ok(())
    }

    /// One page of `query`'s entries: export by export (in name order), a
    /// `ZSCAN` batch at a time.
    pub(super) async fn list(&self, query: EntryQuery<'_>) -> Result<EntryPage, StoreError> {
        let start = match query.cursor {
            None => None,
            Some(cursor) => Some(Position::parse(cursor).ok_or_else(|| {
                StoreError::new("redis", StoreErrorKind::BadRequest, "invalid cursor")
            })?),
        };
        let mut exports: Vec<String> = match query.export {
            Some(export) => vec![export.to_owned()],
            None => {
                let mut connection = self.connection();
                let set = self.indexed_exports_key(query.component);
                self.guarded(connection.smembers(set)).await?
            }
        };
        exports.sort();
        let mut position = match start {
            Some(position) => position,
            None => match exports.first() {
                Some(export) => Position {
                    export: export.clone(),
                    scan: 0,
                },
                None => return Ok(EntryPage::default()),
            },
        };
        let limit = query.limit.max(1);
        let mut entries = Vec::new();
        loop {
            let (next_scan, batch) = self.list_batch(query.component, &position, limit).await?;
            entries.extend(batch);
            position.scan = next_scan;
            if next_scan == 0 {
                // This export is done: on to the next one, if any.
                match exports.iter().find(|export| **export > position.export) {
                    Some(export) => position.export = export.clone(),
                    None => {
                        return Ok(EntryPage {
                            entries,
                            next: None,
                        });
                    }
                }
            }
            if entries.len() >= limit {
                return Ok(EntryPage {
                    entries,
                    next: Some(position.cursor()),
                });
            }
        }
    }

    /// The live entries of one `ZSCAN` batch of an export's index, and the
    /// cursor of the next batch (0: the export is done). Drops members
    /// whose entry is gone.
    async fn list_batch(
        &self,
        component: &str,
        position: &Position,
        count: usize,
    ) -> Result<(u64, Vec<StoredEntry>), StoreError> {
        let export = position.export.as_str();
        let keys = self.index_keys(component, export);
        let mut invocation = self.list_script.prepare_invoke();
        invocation
            .key(&keys.entries)
            .key(&keys.stored)
            .key(&keys.hits)
            .key(self.component_generation_key(component))
            .key(self.export_generation_key(component, export))
            .arg(position.scan)
            .arg(count);
        let mut connection = self.connection();
        let (next, (now_ms, component_generation, export_generation), members, stored, hits): Batch =
            self.guarded(invocation.invoke_async(&mut connection))
                .await?;
        let headers = try_join_all(members.iter().map(|member| self.entry_header(member))).await?;
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (((member, header), stored_at), hits) in
            members.into_iter().zip(headers).zip(stored).zip(hits)
        {
            let Some(key) = <[u8; 32]>::try_from(member.as_slice())
                .ok()
                .map(CacheKey::from_bytes)
            else {
                gone.push(member);
                continue;
            };
            let entry = header.filter(|(header, _)| {
                header.generations == (component_generation, export_generation)
                    && header.expires_at_ms.is_none_or(|at| at > now_ms)
            });
            match entry {
                Some((header, bytes)) => live.push(StoredEntry {
                    key,
                    component: component.to_owned(),
                    export: export.to_owned(),
                    bytes,
                    age: Duration::from_millis(now_ms.saturating_sub(stored_at)),
                    ttl_left: header
                        .expires_at_ms
                        .map(|at| Duration::from_millis(at - now_ms)),
                    hits,
                }),
                None => gone.push(member),
            }
        }
        if !gone.is_empty() {
            let mut pipeline = ::redis::pipe();
            pipeline.atomic();
            pipeline.zrem(&keys.entries, &gone).ignore();
            pipeline.hdel(&keys.stored, &gone).ignore();
            pipeline.hdel(&keys.hits, &gone).ignore();
            self.guarded(pipeline.query_async::<()>(&mut connection))
                .await?;
        }
        Ok((next, live))
    }

    /// The header of the entry under `key` (32 bytes) and the entry's size,
    /// if an entry is there (not a tombstone).
    async fn entry_header(&self, key: &[u8]) -> Result<Option<(Header, u64)>, StoreError> {
        let Ok(key) = <[u8; 32]>::try_from(key) else {
            return Ok(None);
        };
        let entry_key = self.entry_key(&CacheKey::from_bytes(key));
        let mut pipeline = ::redis::pipe();
        pipeline
            .getrange(&entry_key, 0, HEADER_BYTES as isize - 1)
            .strlen(&entry_key);
        let mut connection = self.connection();
        let (header, length): (Vec<u8>, u64) =
            self.guarded(pipeline.query_async(&mut connection)).await?;
        Ok(Header::read(&header).map(|header| (header, length - HEADER_BYTES as u64)))
    }
}
