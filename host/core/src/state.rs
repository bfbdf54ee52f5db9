//! What a guest's wasmtime store holds, and the host functions a guest
//! imports through it: WASI preview 2 and the contract's `actor-cache`.

use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::actor_cache::{ActorCacheScope, Computation, Fetched};
use crate::contract::actor_cache::{self, Lookup};
use crate::key::CacheKey;
use crate::limits::MemoryLimiter;

/// A guest's store data: its WASI context, its resources, its memory
/// limits, and its actor-cache view with the helper results it is computing.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: MemoryLimiter,
    actor_cache: ActorCacheScope,
    computing: Vec<CacheKey>,
}

impl HostState {
    /// The state of a new instance.
    pub(crate) fn new(wasi: WasiCtx, limits: MemoryLimiter, actor_cache: ActorCacheScope) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            limits,
            actor_cache,
            computing: Vec::new(),
        }
    }

    /// Whether the instance holds an actor-cache computation it has not
    /// finished (such an instance must not be reused: its waiters would
    /// wait for it forever).
    pub(crate) fn is_computing(&self) -> bool {
        !self.computing.is_empty()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl actor_cache::Host for HostState {
    async fn fetch(&mut self, helper: String, guest_key: Vec<u8>) -> wasmtime::Result<Lookup> {
        let fetched = self
            .actor_cache
            .fetch(helper, &guest_key, &self.computing)
            .await?;
        match fetched {
            Fetched::Hit(value) => Ok(Lookup::Hit(value.to_vec())),
            Fetched::Compute(computation) => {
                let key = computation.key();
                let handle = self.table.push(computation)?;
                self.computing.push(key);
                Ok(Lookup::Compute(handle))
            }
        }
    }
}

impl actor_cache::HostComputation for HostState {
    async fn finish(
        &mut self,
        computation: Resource<Computation>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<()> {
        let computation = self.table.get_mut(&computation)?;
        computation.finish(value, ttl_ms.map(Duration::from_millis))?;
        let key = computation.key();
        self.computing.retain(|computing| *computing != key);
        Ok(())
    }

    /// An unfinished computation's waiters are released when it drops.
    async fn drop(&mut self, computation: Resource<Computation>) -> wasmtime::Result<()> {
        let computation = self.table.delete(computation)?;
        let key = computation.key();
        self.computing.retain(|computing| *computing != key);
        Ok(())
    }
}
