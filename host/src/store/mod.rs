//! Where cached results live.
//!
//! A [`CacheStore`] knows keys and bytes, never WIT types: the memoizer
//! ([`crate::memo`]) encodes results before they reach a store and checks
//! them after they come back. Every store bounds what it keeps, honours a
//! per-entry time to live, and invalidates a whole export or component in
//! O(1): each entry is written under the current *generation* of its export
//! and of its component, and bumping a generation makes every older entry
//! unreachable (they age out through eviction or their TTL).

mod breaker;
mod memory;
mod redis;

pub use self::redis::{RedisConfig, RedisStore};
pub use memory::{DEFAULT_CAPACITY_BYTES, MemoryStore};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::key::CacheKey;
use crate::stats::StatsRow;

/// A boxed future returned by [`CacheStore`] methods, so stores can be used
/// as `Arc<dyn CacheStore>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store could not serve a request. The memoizer treats it as "no cache":
/// the call still runs, and the outcome is logged as `degraded`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("cache store {store}: {message}")]
pub struct StoreError {
    /// Which store failed (`memory`, `redis`, …).
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Where one entry lives: its key, and the export and component whose
/// generations it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    /// The call's key.
    pub key: &'a CacheKey,
    /// The component's name.
    pub component: &'a str,
    /// The export's path.
    pub export: &'a str,
}

/// A key-value store for encoded call results.
pub trait CacheStore: Send + Sync + 'static {
    /// A short name for logs and errors (`memory`, `redis`, …).
    fn name(&self) -> &'static str;

    /// The bytes stored in `slot` under the current generations, if present
    /// and not expired.
    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Option<Arc<[u8]>>>;

    /// Stores `value` in `slot` under the current generations, replacing any
    /// previous value; it expires after `ttl` (`None`: kept until evicted or
    /// invalidated).
    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()>;

    /// Removes the entry in `slot`, if any.
    fn remove<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, ()>;

    /// Makes every entry of `export` of `component` unreachable.
    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()>;

    /// Makes every entry of `component` unreachable.
    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()>;

    /// Whether requests are reaching the store (false while a shared store is
    /// down). The memory store is always healthy.
    fn is_healthy(&self) -> bool {
        true
    }

    /// Adds counter deltas to the counters this store keeps for every
    /// process that uses it. Stores private to one process keep none.
    fn add_stats<'a>(&'a self, deltas: &'a [StatsRow]) -> StoreFuture<'a, ()> {
        let _ = deltas;
        Box::pin(async { Ok(()) })
    }

    /// The counters this store keeps for every process that uses it, or
    /// `None` if it keeps none.
    fn stats(&self) -> StoreFuture<'_, Option<Vec<StatsRow>>> {
        Box::pin(async { Ok(None) })
    }
}
