//! The actor store: an in-memory cache private to one worker process (one
//! replica). It is the default store and needs no set-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use super::{CacheStore, StoreFuture};
use crate::key::CacheKey;

/// Default bound on the bytes held by a [`MemoryStore`]: 256 MiB.
pub const DEFAULT_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// One stored value and how long it may live.
#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Option<Duration>,
}

/// Expires each entry after its own TTL, counted from when it was written.
struct PerEntryTtl;

impl Expiry<CacheKey, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &CacheKey, entry: &Entry, _: Instant) -> Option<Duration> {
        entry.ttl
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        entry.ttl
    }
}

/// An in-memory store bounded by the total size of its values (least
/// recently used entries are evicted first), with a TTL per entry.
#[derive(Clone)]
pub struct MemoryStore {
    entries: Cache<CacheKey, Entry>,
}

impl MemoryStore {
    /// A store holding at most `capacity_bytes` of values (keys and
    /// bookkeeping are not counted).
    pub fn new(capacity_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_, entry: &Entry| u32::try_from(entry.value.len()).unwrap_or(u32::MAX))
            .expire_after(PerEntryTtl)
            .build();
        Self { entries }
    }
}

impl MemoryStore {
    /// The value under `key`, if present and not expired.
    pub fn lookup(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        self.entries.get(key).map(|entry| entry.value)
    }

    /// Stores `value` under `key` for `ttl` (`None`: until evicted).
    pub fn insert(&self, key: CacheKey, value: Arc<[u8]>, ttl: Option<Duration>) {
        self.entries.insert(key, Entry { value, ttl });
    }
}

impl Default for MemoryStore {
    /// A store bounded by [`DEFAULT_CAPACITY_BYTES`].
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY_BYTES)
    }
}

impl CacheStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, Option<Arc<[u8]>>> {
        let found = self.lookup(key);
        Box::pin(async move { Ok(found) })
    }

    fn set<'a>(
        &'a self,
        key: &'a CacheKey,
        value: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        self.insert(*key, value, ttl);
        Box::pin(async { Ok(()) })
    }

    fn remove<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, ()> {
        self.entries.invalidate(key);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CacheKey {
        CacheKey::from_bytes([byte; 32])
    }

    #[tokio::test]
    async fn returns_what_was_set_until_removed() {
        let store = MemoryStore::default();
        store
            .set(&key(1), Arc::from(&b"v"[..]), None)
            .await
            .unwrap();
        assert_eq!(
            store.get(&key(1)).await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(store.get(&key(2)).await.unwrap(), None);
        store.remove(&key(1)).await.unwrap();
        assert_eq!(store.get(&key(1)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let store = MemoryStore::default();
        let ttl = Some(Duration::from_millis(30));
        store.set(&key(1), Arc::from(&b"v"[..]), ttl).await.unwrap();
        assert!(store.get(&key(1)).await.unwrap().is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(store.get(&key(1)).await.unwrap(), None);
    }
}
