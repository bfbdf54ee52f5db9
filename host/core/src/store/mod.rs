//! Where cached results live.
//!
//! A [`CacheStore`] knows keys and bytes, never WIT types: the memoizer
//! ([`crate::memo`]) encodes results before they reach a store and checks
//! them after they come back. Every store bounds what it keeps, honours a
//! per-entry time to live, and invalidates a whole export or component in
//! O(1): each entry is written under the current *generation* of its export
//! and of its component, and bumping a generation makes every older entry
//! unreachable (they age out through eviction or their TTL).
//!
//! A store shared by several processes also coordinates them: [`CacheStore::claim`]
//! hands the right to compute a key to one process at a time (a lease), so
//! concurrent identical misses on different workers run the body once.

mod config;
mod found;
mod lease;
mod listing;
mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_L1_TTL, RedisConfig, RedisStore, RedisTopology, TieredStore};
pub use config::StoreConfig;
pub use found::{Found, MissReason};
pub use lease::{Claim, Lease};
pub use listing::{EntryPage, EntryQuery, StoredEntry};
pub use memory::{DEFAULT_CAPACITY_BYTES, MemoryStore};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::key::CacheKey;
use crate::policy::CacheRule;
use crate::stats::StatsRow;

/// The future a [`CacheStore`] method returns, one type for every store so
/// stores can be used as `Arc<dyn CacheStore>`: an answer known at once (an
/// in-memory lookup, which then costs no allocation), or a boxed future
/// that waits (on the network).
pub enum StoreFuture<'a, T> {
    /// Answered already.
    Ready(std::future::Ready<Result<T, StoreError>>),
    /// Still to be awaited.
    Waiting(Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>),
}

impl<'a, T> StoreFuture<'a, T> {
    /// A future that answers `result` at once.
    pub fn ready(result: Result<T, StoreError>) -> Self {
        Self::Ready(std::future::ready(result))
    }

    /// The answer, if the store gave it at once; else this future, to await.
    pub fn now(self) -> Result<Result<T, StoreError>, Self> {
        match self {
            Self::Ready(ready) => Ok(ready.into_inner()),
            waiting => Err(waiting),
        }
    }

    /// A future that answers what `future` does.
    pub fn new(future: impl Future<Output = Result<T, StoreError>> + Send + 'a) -> Self {
        Self::Waiting(Box::pin(future))
    }
}

impl<T> Future for StoreFuture<'_, T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Both variants are `Unpin`: the boxed future is pinned in its box.
        match self.get_mut() {
            Self::Ready(ready) => Pin::new(ready).poll(cx),
            Self::Waiting(waiting) => waiting.as_mut().poll(cx),
        }
    }
}

/// A store could not serve a request. The memoizer treats it as "no cache":
/// the call still runs, and the outcome is logged as `degraded`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("cache store {store}: {message}")]
#[non_exhaustive]
pub struct StoreError {
    /// Which store failed (`memory`, `redis`, …).
    pub store: &'static str,
    /// What kind of failure, for callers that handle them differently.
    pub kind: StoreErrorKind,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    /// A failure of `store` of `kind`.
    pub fn new(store: &'static str, kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            store,
            kind,
            message: message.into(),
        }
    }
}

/// The kinds of [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached (connection refused or dropped, or
    /// skipped while its breaker is open after a failure).
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// The store answered with something this host cannot read.
    Corrupt,
    /// The store refused the request (authentication, an error reply).
    Refused,
    /// The store's settings are invalid.
    Config,
    /// The store cannot do what was asked (such as listing its entries).
    Unsupported,
    /// The request was malformed (such as a cursor this store did not make).
    BadRequest,
}

/// What a store holds now, and what it evicted to stay within its bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    /// Entries held (tombstones and code records included; on Redis every
    /// key of the database).
    pub entries: u64,
    /// Bytes held: of the values (memory store), or all Redis uses.
    pub bytes: u64,
    /// Entries evicted since the store was created (memory store: to stay
    /// within `capacity-bytes`; Redis: under `maxmemory`, since it started).
    pub evictions: u64,
}

/// Where one entry lives: its key, the export and component whose
/// generations it belongs to, and what it holds.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    /// The entry's key.
    pub key: &'a CacheKey,
    /// The component's name.
    pub component: &'a str,
    /// The export's path.
    pub export: &'a str,
    /// What the entry holds.
    pub kind: SlotKind,
}

impl<'a> Slot<'a> {
    /// The slot of the result of a call of `export` of `component` with `key`.
    pub fn result(key: &'a CacheKey, component: &'a str, export: &'a str) -> Self {
        Self {
            key,
            component,
            export,
            kind: SlotKind::Result,
        }
    }

    /// The same place, holding a code record instead of a result.
    pub fn code_record(self) -> Self {
        Self {
            kind: SlotKind::CodeRecord,
            ..self
        }
    }
}

/// What a [`Slot`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// A call's result: listed by [`CacheStore::entries`].
    Result,
    /// Which version of a component's code last stored a result for some
    /// arguments (the bookkeeping behind `code-changed`): never listed.
    CodeRecord,
}

/// A key-value store for encoded call results.
pub trait CacheStore: Send + Sync + 'static {
    /// A short name for logs and errors (`memory`, `redis`, …).
    fn name(&self) -> &'static str;

    /// The bytes stored in `slot` under the current generations, if present
    /// and not expired; else why not, as far as the store can tell.
    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Found>;

    /// Stores `value` in `slot` under the current generations, replacing any
    /// previous value; it expires after `ttl` (`None`: kept until evicted or
    /// invalidated).
    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()>;

    /// Removes the entry under `key`, whatever its export (a later `get`
    /// may tell it was [`MissReason::Invalidated`]); returns whether an
    /// entry was there.
    fn remove<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, bool>;

    /// Makes every entry of `export` of `component` unreachable.
    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()>;

    /// Makes every entry of `component` unreachable.
    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()>;

    /// Claims the right to compute the entry in `slot` for every process
    /// sharing this store. A store private to one process answers
    /// [`Claim::Unshared`] (the in-process single-flight is enough).
    fn claim<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Claim> {
        let _ = slot;
        StoreFuture::ready(Ok(Claim::Unshared))
    }

    /// One page of the results stored for `query`'s component (and export):
    /// live entries only, with their size, age, time left and hits.
    fn entries<'a>(&'a self, query: EntryQuery<'a>) -> StoreFuture<'a, EntryPage> {
        let _ = query;
        let name = self.name();
        StoreFuture::new(async move {
            Err(StoreError::new(
                name,
                StoreErrorKind::Unsupported,
                "this store cannot list its entries",
            ))
        })
    }

    /// Writes what the store buffered between flushes (Redis: the hits of
    /// each entry); called with the counters' flush.
    fn flush(&self) -> StoreFuture<'_, ()> {
        StoreFuture::ready(Ok(()))
    }

    /// What the store holds now and how many entries it evicted, or `None`
    /// if it does not say.
    fn usage(&self) -> StoreFuture<'_, Option<StoreUsage>> {
        StoreFuture::ready(Ok(None))
    }

    /// Whether requests are reaching the store (false while a shared store is
    /// down). The memory store is always healthy.
    fn is_healthy(&self) -> bool {
        true
    }

    /// Asks the store whether it answers now: a shared store is sent a
    /// request (through its breaker: while that is open, no without asking;
    /// past its window, this is the probe that closes it).
    fn ping(&self) -> StoreFuture<'_, ()> {
        StoreFuture::ready(Ok(()))
    }

    /// Adds counter deltas to the counters this store keeps for every
    /// process that uses it. Stores private to one process keep none.
    fn add_stats<'a>(&'a self, deltas: &'a [StatsRow]) -> StoreFuture<'a, ()> {
        let _ = deltas;
        StoreFuture::ready(Ok(()))
    }

    /// The counters this store keeps for every process that uses it, or
    /// `None` if it keeps none.
    fn stats(&self) -> StoreFuture<'_, Option<Vec<StatsRow>>> {
        StoreFuture::ready(Ok(None))
    }
}

/// The host's store, and the named stores that rules may keep an export's
/// results in (the config file's `[stores.NAME]`).
#[derive(Clone)]
pub struct Stores {
    default: Arc<dyn CacheStore>,
    named: FxHashMap<String, Arc<dyn CacheStore>>,
}

impl Stores {
    /// Just the host's store.
    pub fn new(default: Arc<dyn CacheStore>) -> Self {
        Self {
            default,
            named: FxHashMap::default(),
        }
    }

    /// Replaces the host's store.
    pub fn set_default(&mut self, store: Arc<dyn CacheStore>) {
        self.default = store;
    }

    /// Adds the store `name`.
    pub fn insert(&mut self, name: &str, store: Arc<dyn CacheStore>) {
        self.named.insert(name.to_owned(), store);
    }

    /// Whether a store is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    /// The host's store.
    pub fn default_store(&self) -> &Arc<dyn CacheStore> {
        &self.default
    }

    /// The store that keeps results under `rule` (the host's store unless
    /// the rule names a known one; names are checked when components load).
    pub fn for_rule(&self, rule: &CacheRule) -> &Arc<dyn CacheStore> {
        rule.store
            .as_deref()
            .and_then(|name| self.named.get(name))
            .unwrap_or(&self.default)
    }

    /// Every store: the host's first, then the named ones by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn CacheStore>> {
        let mut named: Vec<_> = self.named.iter().collect();
        named.sort_unstable_by_key(|(name, _)| name.as_str());
        std::iter::once(&self.default).chain(named.into_iter().map(|(_, store)| store))
    }
}
