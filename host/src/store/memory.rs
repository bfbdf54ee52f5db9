//! The actor store: an in-memory cache private to one worker process (one
//! replica). It is the default store and needs no set-up.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use super::{CacheStore, Slot, StoreFuture};
use crate::key::CacheKey;

/// Default bound on the bytes held by a [`MemoryStore`]: 256 MiB.
pub const DEFAULT_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// One stored value, the generations it was written under, and how long it
/// may live.
#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    generations: Generations,
    ttl: Option<Duration>,
}

/// The (component, export) generations an entry belongs to.
type Generations = (u64, u64);

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
    /// Generations by component name; absent means 0.
    generations: Arc<RwLock<HashMap<String, ComponentGenerations>>>,
}

/// A component's generation and its exports' generations.
#[derive(Default)]
struct ComponentGenerations {
    component: u64,
    exports: HashMap<String, u64>,
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
        Self {
            entries,
            generations: Arc::default(),
        }
    }

    /// The value under `key`, if present and not expired. (For keys that
    /// belong to no export, such as the actor cache's.)
    pub fn lookup(&self, key: &CacheKey) -> Option<Arc<[u8]>> {
        self.entries.get(key).map(|entry| entry.value)
    }

    /// Stores `value` under `key` for `ttl` (`None`: until evicted).
    pub fn insert(&self, key: CacheKey, value: Arc<[u8]>, ttl: Option<Duration>) {
        let generations = (0, 0);
        self.entries.insert(
            key,
            Entry {
                value,
                generations,
                ttl,
            },
        );
    }

    fn current(&self, slot: &Slot<'_>) -> Generations {
        let generations = self
            .generations
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        generations.get(slot.component).map_or((0, 0), |component| {
            let export = component.exports.get(slot.export).copied().unwrap_or(0);
            (component.component, export)
        })
    }

    fn bump(&self, component: &str, export: Option<&str>) {
        let mut generations = self
            .generations
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let component = generations.entry(component.to_owned()).or_default();
        match export {
            None => component.component += 1,
            Some(export) => *component.exports.entry(export.to_owned()).or_default() += 1,
        }
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

    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Option<Arc<[u8]>>> {
        let found = self
            .entries
            .get(slot.key)
            .filter(|entry| entry.generations == self.current(&slot))
            .map(|entry| entry.value);
        Box::pin(async move { Ok(found) })
    }

    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        let generations = self.current(&slot);
        self.entries.insert(
            *slot.key,
            Entry {
                value,
                generations,
                ttl,
            },
        );
        Box::pin(async { Ok(()) })
    }

    fn remove<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, ()> {
        self.entries.invalidate(slot.key);
        Box::pin(async { Ok(()) })
    }

    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()> {
        self.bump(component, Some(export));
        Box::pin(async { Ok(()) })
    }

    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()> {
        self.bump(component, None);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CacheKey {
        CacheKey::from_bytes([byte; 32])
    }

    fn slot<'a>(key: &'a CacheKey, export: &'a str) -> Slot<'a> {
        Slot {
            key,
            component: "users",
            export,
        }
    }

    fn value() -> Arc<[u8]> {
        Arc::from(&b"v"[..])
    }

    #[tokio::test]
    async fn returns_what_was_set_until_removed() {
        let store = MemoryStore::default();
        let (one, two) = (key(1), key(2));
        store.set(slot(&one, "f"), value(), None).await.unwrap();
        assert_eq!(store.get(slot(&one, "f")).await.unwrap(), Some(value()));
        assert_eq!(store.get(slot(&two, "f")).await.unwrap(), None);
        store.remove(slot(&one, "f")).await.unwrap();
        assert_eq!(store.get(slot(&one, "f")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let store = MemoryStore::default();
        let one = key(1);
        let ttl = Some(Duration::from_millis(30));
        store.set(slot(&one, "f"), value(), ttl).await.unwrap();
        assert!(store.get(slot(&one, "f")).await.unwrap().is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(store.get(slot(&one, "f")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn invalidation_hides_one_export_or_a_whole_component() {
        let store = MemoryStore::default();
        let (one, two) = (key(1), key(2));
        store.set(slot(&one, "f"), value(), None).await.unwrap();
        store.set(slot(&two, "g"), value(), None).await.unwrap();
        store.invalidate_export("users", "f").await.unwrap();
        assert_eq!(store.get(slot(&one, "f")).await.unwrap(), None);
        assert!(
            store.get(slot(&two, "g")).await.unwrap().is_some(),
            "other exports keep their entries"
        );
        store.set(slot(&one, "f"), value(), None).await.unwrap();
        assert!(
            store.get(slot(&one, "f")).await.unwrap().is_some(),
            "new entries are visible"
        );
        store.invalidate_component("users").await.unwrap();
        assert_eq!(store.get(slot(&one, "f")).await.unwrap(), None);
        assert_eq!(store.get(slot(&two, "g")).await.unwrap(), None);
        let other = Slot {
            component: "admins",
            ..slot(&two, "g")
        };
        store.set(other, value(), None).await.unwrap();
        store.invalidate_component("users").await.unwrap();
        assert!(
            store.get(other).await.unwrap().is_some(),
            "other components keep their entries"
        );
    }

    #[test]
    fn capacity_bounds_the_stored_bytes() {
        let store = MemoryStore::new(1024);
        for byte in 0..64u8 {
            store.insert(key(byte), Arc::from(vec![byte; 100]), None);
        }
        store.entries.run_pending_tasks();
        assert!(
            store.entries.weighted_size() <= 1024,
            "{}",
            store.entries.weighted_size()
        );
    }
}
