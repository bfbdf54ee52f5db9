//! Where cached results live.
//!
//! A [`CacheStore`] knows keys and bytes, never WIT types: the memoizer
//! ([`crate::memo`]) encodes results before they reach a store and checks
//! them after they come back. Every store bounds what it keeps and honours a
//! per-entry time to live.

mod memory;

pub use memory::MemoryStore;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::key::CacheKey;

/// A boxed future returned by [`CacheStore`] methods, so stores can be used
/// as `Arc<dyn CacheStore>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store could not serve a request. The memoizer treats it as "no cache":
/// the call still runs, and the outcome is logged as `degraded`.
#[derive(Debug, thiserror::Error)]
#[error("cache store {store}: {message}")]
pub struct StoreError {
    /// Which store failed (`memory`, `redis`, …).
    pub store: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A key-value store for encoded call results.
pub trait CacheStore: Send + Sync + 'static {
    /// A short name for logs and errors (`memory`, `redis`, …).
    fn name(&self) -> &'static str;

    /// The bytes stored under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, Option<Arc<[u8]>>>;

    /// Stores `value` under `key`, replacing any previous value; it expires
    /// after `ttl` (`None`: kept until evicted or invalidated).
    fn set<'a>(
        &'a self,
        key: &'a CacheKey,
        value: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()>;

    /// Removes the entry under `key`, if any.
    fn remove<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, ()>;
}
