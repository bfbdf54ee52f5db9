//! The host side of the `actor-cache` import: a replica-local cache for
//! helper results (Union's `@actor.cache`), namespaced per component.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::contract::actor_cache;
use crate::key::CacheKey;
use crate::runner::HostState;
use crate::store::MemoryStore;

/// Default bound on the bytes all components keep in the actor cache: 64 MiB.
pub const DEFAULT_ACTOR_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// One component's view of the replica's actor cache.
#[derive(Clone)]
pub struct ActorCacheScope {
    entries: MemoryStore,
    component: Arc<str>,
}

impl ActorCacheScope {
    /// The namespace of `component` in `entries`.
    pub fn new(entries: MemoryStore, component: Arc<str>) -> Self {
        Self { entries, component }
    }

    /// The store key of a guest key: guests can only ever address their own
    /// component's entries.
    fn key(&self, guest_key: &[u8]) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update(b"activity-host/actor-cache/v1");
        hasher.update((self.component.len() as u32).to_le_bytes());
        hasher.update(self.component.as_bytes());
        hasher.update(guest_key);
        CacheKey::from_bytes(hasher.finalize().into())
    }
}

impl actor_cache::Host for HostState {
    fn get(&mut self, key: Vec<u8>) -> Option<Vec<u8>> {
        let scope = &self.actor_cache;
        scope
            .entries
            .lookup(&scope.key(&key))
            .map(|value| value.to_vec())
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>, ttl_ms: Option<u64>) {
        let scope = &self.actor_cache;
        let ttl = ttl_ms.map(Duration::from_millis);
        scope.entries.insert(scope.key(&key), value.into(), ttl);
    }
}
