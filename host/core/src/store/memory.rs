//! The actor store: an in-memory cache private to one worker process (one
//! replica). It is the default store and needs no set-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, OptionsBuilder, UnitWeighter, Weighter};
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::{
    CacheStore, EntryPage, EntryQuery, Found, MissReason, Slot, SlotKind, StoreError,
    StoreErrorKind, StoreFuture, StoreUsage, StoredEntry,
};
use crate::key::CacheKey;

/// Default bound on the bytes held by a [`MemoryStore`]: 256 MiB.
pub const DEFAULT_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// How many evicted keys a store remembers, to tell an eviction from a key
/// never stored (about 3 MiB).
const EVICTED_KEYS_REMEMBERED: usize = 65_536;

/// One stored value (none for an entry removed by invalidation: a
/// tombstone) and its bookkeeping. Cloning it (as the table's reads do)
/// copies a pointer.
#[derive(Clone)]
struct Entry(Arc<Stored>);

struct Stored {
    value: Option<Bytes>,
    generations: Generations,
    stored_at: Instant,
    expires_at: Option<Instant>,
    /// Whose result it is, if it is one a listing shows (not a code
    /// record, a tombstone or an actor-cache value).
    owner: Option<Owner>,
    /// Lookups that found it.
    hits: AtomicU64,
}

/// The export whose result an entry is.
struct Owner {
    component: Box<str>,
    export: Box<str>,
}

impl Entry {
    fn new(
        value: Option<Bytes>,
        generations: Generations,
        ttl: Option<Duration>,
        owner: Option<Owner>,
    ) -> Self {
        let stored_at = Instant::now();
        Self(Arc::new(Stored {
            value,
            generations,
            stored_at,
            expires_at: ttl.map(|ttl| stored_at + ttl),
            owner,
            hits: AtomicU64::new(0),
        }))
    }

    fn is_live(&self) -> bool {
        self.0.expires_at.is_none_or(|at| Instant::now() < at)
    }

    /// Why a lookup finds nothing once this entry is gone or unusable.
    fn reason_when_gone(&self) -> MissReason {
        if !self.is_live() {
            MissReason::Expired
        } else if self.0.value.is_none() {
            MissReason::Invalidated
        } else {
            MissReason::Evicted
        }
    }

    /// The entry as a listing shows it, if it is a live result of `query`'s
    /// component (and export) written under `generations` (of its export).
    fn listed(
        &self,
        key: CacheKey,
        query: &EntryQuery<'_>,
        generations: &impl Fn(&str) -> Generations,
    ) -> Option<StoredEntry> {
        let stored = &*self.0;
        let owner = stored.owner.as_ref()?;
        let value = stored.value.as_ref()?;
        let wanted = &*owner.component == query.component
            && query.export.is_none_or(|export| export == &*owner.export);
        if !wanted || !self.is_live() || stored.generations != generations(&owner.export) {
            return None;
        }
        let now = Instant::now();
        Some(StoredEntry {
            key,
            component: owner.component.to_string(),
            export: owner.export.to_string(),
            bytes: value.len() as u64,
            age: now.saturating_duration_since(stored.stored_at),
            ttl_left: stored
                .expires_at
                .map(|at| at.saturating_duration_since(now)),
            hits: stored.hits.load(Ordering::Relaxed),
        })
    }
}

/// The (component, export) generations an entry belongs to.
pub(super) type Generations = (u64, u64);

/// Weighs entries by the size of their value.
#[derive(Clone)]
struct ValueBytes;

impl Weighter<CacheKey, Entry> for ValueBytes {
    fn weight(&self, _: &CacheKey, entry: &Entry) -> u64 {
        entry
            .0
            .value
            .as_ref()
            .map_or(1, |value| value.len().max(1) as u64)
    }
}

/// Keys evicted lately, and why they went.
type EvictedKeys = Cache<CacheKey, MissReason, UnitWeighter, FxBuildHasher>;

/// Counts evictions and remembers each evicted key, so a later miss on it
/// says `evicted`.
#[derive(Clone)]
struct RememberEvictions {
    keys: Arc<EvictedKeys>,
    count: Arc<AtomicU64>,
}

impl Lifecycle<CacheKey, Entry> for RememberEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), key: CacheKey, entry: Entry) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.keys.insert(key, entry.reason_when_gone());
    }
}

/// The entry table: bounded by bytes, remembering what it evicts.
type Entries = Cache<CacheKey, Entry, ValueBytes, FxBuildHasher, RememberEvictions>;

/// An in-memory store bounded by the total size of its values (evicting
/// what is least likely to be used again, S3-FIFO), with a TTL per entry.
#[derive(Clone)]
pub struct MemoryStore {
    entries: Arc<Entries>,
    /// Keys evicted lately (shared with `entries`' lifecycle).
    evicted: Arc<EvictedKeys>,
    /// Evictions so far (shared with `entries`' lifecycle).
    evictions: Arc<AtomicU64>,
    /// Generations by component name; absent means 0.
    generations: Arc<RwLock<FxHashMap<String, ComponentGenerations>>>,
    /// Whether anything was ever invalidated (if not, every generation is 0
    /// and lookups skip the lock).
    invalidated: Arc<AtomicBool>,
}

/// A component's generation and its exports' generations.
#[derive(Default)]
struct ComponentGenerations {
    component: u64,
    exports: FxHashMap<String, u64>,
}

/// The entry every store can hold, whatever its size (in a smaller store:
/// 97 % of its capacity, what the table lets one entry take).
pub(crate) const LARGEST_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

/// How many independently locked shards a store of `capacity_bytes` has.
/// Each shard holds its share of the capacity, and an entry must fit in 97 %
/// of one: the table is split (for concurrency, up to 4 shards per core)
/// only while each shard still takes [`LARGEST_ENTRY_BYTES`].
fn shards_for(capacity_bytes: u64) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let fitting = (capacity_bytes / 100 * 97 / LARGEST_ENTRY_BYTES).max(1) as usize;
    // Powers of two, rounded down: the table rounds other counts up.
    let round_down = |n: usize| 1usize << n.ilog2();
    round_down(fitting).min(round_down(cores * 4))
}

impl MemoryStore {
    /// A store holding at most `capacity_bytes` of values (keys and
    /// bookkeeping are not counted).
    pub fn new(capacity_bytes: u64) -> Self {
        // A guess at the entry count for sizing the tables: small entries.
        let estimated_items = (capacity_bytes / 256).clamp(1024, 1 << 20) as usize;
        let evicted = Arc::new(EvictedKeys::with(
            EVICTED_KEYS_REMEMBERED,
            EVICTED_KEYS_REMEMBERED as u64,
            UnitWeighter,
            FxBuildHasher,
            Default::default(),
        ));
        let evictions = Arc::new(AtomicU64::new(0));
        let lifecycle = RememberEvictions {
            keys: evicted.clone(),
            count: evictions.clone(),
        };
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated_items)
            .weight_capacity(capacity_bytes)
            .shards(shards_for(capacity_bytes))
            .build()
            .expect("every option is set");
        let entries = Entries::with_options(options, ValueBytes, FxBuildHasher, lifecycle);
        Self {
            entries: Arc::new(entries),
            evicted,
            evictions,
            generations: Arc::default(),
            invalidated: Arc::default(),
        }
    }

    /// The value under `key`, if present and not expired. (For keys that
    /// belong to no export, such as the actor cache's.)
    pub fn lookup(&self, key: &CacheKey) -> Option<Bytes> {
        self.find_key(key).entry()
    }

    /// The value under `key`, or why there is none. (For keys that belong
    /// to no export, such as the actor cache's.)
    pub fn find_key(&self, key: &CacheKey) -> Found {
        self.find(key, (0, 0))
    }

    /// Stores `value` under `key` for `ttl` (`None`: until evicted).
    pub fn insert(&self, key: CacheKey, value: Bytes, ttl: Option<Duration>) {
        let entry = Entry::new(Some(value), (0, 0), ttl, None);
        self.entries.insert(key, entry);
    }

    /// What `key` holds as of `generations`: its value, or why there is
    /// none (an expired entry is removed).
    fn find(&self, key: &CacheKey, generations: Generations) -> Found {
        let Some(entry) = self.entries.get(key) else {
            let reason = self.evicted.get(key).unwrap_or(MissReason::New);
            return Found::Missing(reason);
        };
        if !entry.is_live() {
            self.entries.remove(key);
            return Found::Missing(MissReason::Expired);
        }
        match &entry.0.value {
            Some(value) if entry.0.generations == generations => {
                entry.0.hits.fetch_add(1, Ordering::Relaxed);
                Found::Entry(value.clone())
            }
            _ => Found::Missing(MissReason::Invalidated),
        }
    }

    /// Stores `value` in `slot` as of `generations` (read before the value
    /// was fetched elsewhere: an invalidation in between hides it).
    pub(super) fn insert_as_of(
        &self,
        slot: Slot<'_>,
        value: Bytes,
        ttl: Option<Duration>,
        generations: Generations,
    ) {
        let owner = (slot.kind == SlotKind::Result).then(|| Owner {
            component: slot.component.into(),
            export: slot.export.into(),
        });
        let entry = Entry::new(Some(value), generations, ttl, owner);
        self.entries.insert(*slot.key, entry);
    }

    /// The value in `slot` if it was written as of `generations`.
    #[cfg(feature = "redis")]
    pub(super) fn lookup_current(&self, slot: Slot<'_>, generations: Generations) -> Option<Bytes> {
        self.find(slot.key, generations).entry()
    }

    /// Removes every entry (the tiered store's memory, when Redis
    /// reconnects).
    #[cfg(feature = "redis")]
    pub(super) fn clear(&self) {
        self.entries.clear();
    }

    /// The current generations of `slot`'s component and export.
    pub(super) fn current(&self, slot: &Slot<'_>) -> Generations {
        self.generations_of(slot.component, slot.export)
    }

    fn generations_of(&self, component: &str, export: &str) -> Generations {
        if !self.invalidated.load(Ordering::Acquire) {
            return (0, 0);
        }
        let generations = self
            .generations
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        generations.get(component).map_or((0, 0), |component| {
            let export = component.exports.get(export).copied().unwrap_or(0);
            (component.component, export)
        })
    }

    /// Removes the entry under `key`, if any (no tombstone: for copies of
    /// entries kept elsewhere).
    #[cfg(feature = "redis")]
    pub(super) fn remove_key(&self, key: &CacheKey) {
        self.entries.remove(key);
    }

    /// Leaves a tombstone under `key`, so the next lookup says
    /// `invalidated`; returns whether a live value was there.
    fn tombstone(&self, key: &CacheKey) -> bool {
        let was_live = self
            .entries
            .get(key)
            .is_some_and(|entry| entry.0.value.is_some() && entry.is_live());
        self.entries
            .insert(*key, Entry::new(None, (0, 0), None, None));
        was_live
    }

    /// One page of `query`'s entries, in key order; the cursor is the last
    /// key of the page. (Reads the whole table: a memory store holds at
    /// most a few million entries.)
    fn page(&self, query: &EntryQuery<'_>) -> Result<EntryPage, StoreError> {
        let after = match query.cursor {
            None => None,
            Some(cursor) => Some(CacheKey::from_hex(cursor).ok_or_else(|| {
                StoreError::new("memory", StoreErrorKind::BadRequest, "invalid cursor")
            })?),
        };
        let generations = |export: &str| self.generations_of(query.component, export);
        let mut entries: Vec<StoredEntry> = self
            .entries
            .iter()
            .filter(|(key, _)| after.is_none_or(|after| *key > after))
            .filter_map(|(key, entry)| entry.listed(key, query, &generations))
            .collect();
        entries.sort_unstable_by_key(|entry| entry.key);
        let limit = query.limit.max(1);
        let next = (entries.len() > limit).then(|| entries[limit - 1].key.to_string());
        entries.truncate(limit);
        Ok(EntryPage { entries, next })
    }

    /// Bumps the generation of `export` of `component`, or of the whole
    /// component if `export` is `None`.
    pub(super) fn bump(&self, component: &str, export: Option<&str>) {
        let mut generations = self
            .generations
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let component = generations.entry(component.to_owned()).or_default();
        match export {
            None => component.component += 1,
            Some(export) => *component.exports.entry(export.to_owned()).or_default() += 1,
        }
        self.invalidated.store(true, Ordering::Release);
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

    fn usage(&self) -> StoreFuture<'_, Option<StoreUsage>> {
        let usage = StoreUsage {
            entries: self.entries.len() as u64,
            bytes: self.entries.weight(),
            evictions: self.evictions.load(Ordering::Relaxed),
        };
        StoreFuture::ready(Ok(Some(usage)))
    }

    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Found> {
        let found = self.find(slot.key, self.current(&slot));
        StoreFuture::ready(Ok(found))
    }

    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        self.insert_as_of(slot, value, ttl, self.current(&slot));
        StoreFuture::ready(Ok(()))
    }

    /// Leaves a tombstone, so the next lookup says `invalidated`.
    fn remove<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, bool> {
        let was_live = self.tombstone(key);
        StoreFuture::ready(Ok(was_live))
    }

    fn entries<'a>(&'a self, query: EntryQuery<'a>) -> StoreFuture<'a, EntryPage> {
        let page = self.page(&query);
        StoreFuture::ready(page)
    }

    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()> {
        self.bump(component, Some(export));
        StoreFuture::ready(Ok(()))
    }

    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()> {
        self.bump(component, None);
        StoreFuture::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MissReason::{Evicted, Expired, Invalidated, New};

    fn key(byte: u8) -> CacheKey {
        CacheKey::from_bytes([byte; 32])
    }

    fn slot<'a>(key: &'a CacheKey, export: &'a str) -> Slot<'a> {
        Slot::result(key, "users", export)
    }

    fn missing(reason: MissReason) -> Found {
        Found::Missing(reason)
    }

    fn value() -> Bytes {
        Bytes::from_static(b"v")
    }

    #[tokio::test]
    async fn returns_what_was_set_until_removed() {
        let store = MemoryStore::default();
        let (one, two) = (key(1), key(2));
        store.set(slot(&one, "f"), value(), None).await.unwrap();
        assert_eq!(
            store.get(slot(&one, "f")).await.unwrap(),
            Found::Entry(value())
        );
        assert_eq!(store.get(slot(&two, "f")).await.unwrap(), missing(New));
        assert!(store.remove(&one).await.unwrap(), "an entry was there");
        assert!(!store.remove(&one).await.unwrap(), "no entry is there now");
        assert_eq!(
            store.get(slot(&one, "f")).await.unwrap(),
            missing(Invalidated)
        );
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let store = MemoryStore::default();
        let one = key(1);
        let ttl = Some(Duration::from_millis(30));
        store.set(slot(&one, "f"), value(), ttl).await.unwrap();
        assert!(store.get(slot(&one, "f")).await.unwrap().entry().is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(store.get(slot(&one, "f")).await.unwrap(), missing(Expired));
    }

    #[tokio::test]
    async fn invalidation_hides_one_export_or_a_whole_component() {
        let store = MemoryStore::default();
        let (one, two) = (key(1), key(2));
        store.set(slot(&one, "f"), value(), None).await.unwrap();
        store.set(slot(&two, "g"), value(), None).await.unwrap();
        store.invalidate_export("users", "f").await.unwrap();
        assert_eq!(
            store.get(slot(&one, "f")).await.unwrap(),
            missing(Invalidated)
        );
        assert!(
            store.get(slot(&two, "g")).await.unwrap().entry().is_some(),
            "other exports keep their entries"
        );
        store.set(slot(&one, "f"), value(), None).await.unwrap();
        assert!(
            store.get(slot(&one, "f")).await.unwrap().entry().is_some(),
            "new entries are visible"
        );
        store.invalidate_component("users").await.unwrap();
        assert_eq!(
            store.get(slot(&one, "f")).await.unwrap(),
            missing(Invalidated)
        );
        assert_eq!(
            store.get(slot(&two, "g")).await.unwrap(),
            missing(Invalidated)
        );
        let other = Slot {
            component: "admins",
            ..slot(&two, "g")
        };
        store.set(other, value(), None).await.unwrap();
        store.invalidate_component("users").await.unwrap();
        assert!(
            store.get(other).await.unwrap().entry().is_some(),
            "other components keep their entries"
        );
    }

    #[test]
    fn capacity_bounds_the_stored_bytes() {
        let store = MemoryStore::new(1024);
        for byte in 0..64u8 {
            store.insert(key(byte), Bytes::from(vec![byte; 100]), None);
        }
        assert!(store.entries.weight() <= 1024, "{}", store.entries.weight());
        assert!(store.lookup(&key(63)).is_some(), "the newest entry is kept");
    }

    #[test]
    fn an_entry_as_large_as_the_capacity_is_kept() {
        // Split into a shard per core, a 256 MiB store dropped any entry
        // over 32 MiB at once (each shard holds its share of the capacity).
        let store = MemoryStore::new(DEFAULT_CAPACITY_BYTES);
        store.insert(key(1), Bytes::from(vec![0; 240 << 20]), None);
        assert!(store.lookup(&key(1)).is_some());
        assert_eq!(shards_for(DEFAULT_CAPACITY_BYTES), 1);
        let cores = std::thread::available_parallelism().unwrap().get();
        // Rounded down to a power of two, so each shard still fits one.
        let per_core = 1 << (cores * 4).ilog2();
        assert_eq!(shards_for(3 * LARGEST_ENTRY_BYTES), 2.min(per_core));
        assert_eq!(
            shards_for(2 * LARGEST_ENTRY_BYTES),
            1,
            "a shard must take 97 %"
        );
        assert_eq!(shards_for(64 * LARGEST_ENTRY_BYTES), 32.min(per_core));
    }

    #[tokio::test]
    async fn a_miss_on_an_evicted_key_says_so() {
        let store = MemoryStore::new(1024);
        for byte in 0..64u8 {
            let k = key(byte);
            store
                .set(slot(&k, "f"), Bytes::from(vec![byte; 100]), None)
                .await
                .unwrap();
        }
        let found: Vec<Found> = every_lookup(&store).await;
        assert!(found.contains(&missing(Evicted)), "some keys were evicted");
        assert!(!found.contains(&missing(New)), "none reads as never stored");
    }

    fn query<'a>(export: Option<&'a str>, cursor: Option<&'a str>) -> EntryQuery<'a> {
        EntryQuery {
            component: "users",
            export,
            cursor,
            limit: 2,
        }
    }

    #[tokio::test]
    async fn lists_live_results_a_page_at_a_time() {
        let store = MemoryStore::default();
        let keys: Vec<CacheKey> = (1..=4).map(key).collect();
        let ttl = Some(Duration::from_secs(60));
        for k in &keys[..3] {
            store.set(slot(k, "f"), value(), ttl).await.unwrap();
        }
        store.set(slot(&keys[3], "g"), value(), None).await.unwrap();
        let record = key(9);
        let code = slot(&record, "f").code_record();
        store.set(code, value(), None).await.unwrap();
        store.get(slot(&keys[0], "f")).await.unwrap();
        store.get(slot(&keys[0], "f")).await.unwrap();

        let first = store.entries(query(None, None)).await.unwrap();
        let listed: Vec<CacheKey> = first.entries.iter().map(|e| e.key).collect();
        assert_eq!(listed, keys[..2]);
        let entry = &first.entries[0];
        assert_eq!(
            (entry.export.as_str(), entry.bytes, entry.hits),
            ("f", 1, 2)
        );
        assert!(
            entry
                .ttl_left
                .is_some_and(|left| left <= Duration::from_secs(60))
        );
        let cursor = first.next.expect("a second page");
        let second = store.entries(query(None, Some(&cursor))).await.unwrap();
        let listed: Vec<CacheKey> = second.entries.iter().map(|e| e.key).collect();
        assert_eq!(listed, keys[2..], "the code record is not listed");
        assert_eq!(second.entries[1].ttl_left, None);
        assert_eq!(second.next, None);

        store.remove(&keys[1]).await.unwrap();
        store.invalidate_export("users", "g").await.unwrap();
        let only_f = store.entries(query(Some("f"), None)).await.unwrap();
        let listed: Vec<CacheKey> = only_f.entries.iter().map(|e| e.key).collect();
        assert_eq!(
            listed,
            [keys[0], keys[2]],
            "removed and invalidated are gone"
        );
        let bad = store.entries(query(None, Some("zz"))).await.unwrap_err();
        assert_eq!(bad.kind, StoreErrorKind::BadRequest);
    }

    async fn every_lookup(store: &MemoryStore) -> Vec<Found> {
        let mut found = Vec::new();
        for byte in 0..64u8 {
            let k = key(byte);
            found.push(store.get(slot(&k, "f")).await.unwrap());
        }
        found
    }
}
