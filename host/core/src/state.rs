//! What a guest's wasmtime store holds, and the host functions a guest
//! imports through it: WASI preview 2 (with `wasi:http` requests and name
//! lookups gated by [`crate::outbound`]) and the contract's `actor-cache`.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::actor_cache::{ActorCacheScope, Computation, Fetched};
use crate::contract::actor_cache::{self, Lookup};
use crate::key::CacheKey;
use crate::limits::MemoryLimiter;
use crate::outbound::{GatedLookupView, Network, OutboundHttp};

/// A guest's store data: its WASI context, its resources, its memory
/// limits, its network, and its actor-cache view with the helper results it
/// is computing.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: MemoryLimiter,
    http: WasiHttpCtx,
    outbound_http: OutboundHttp,
    pub(crate) network: Arc<Network>,
    pending_lookups: Vec<(u32, String)>,
    actor_cache: ActorCacheScope,
    computing: Vec<CacheKey>,
}

impl HostState {
    /// The state of a new instance.
    pub(crate) fn new(
        wasi: WasiCtx,
        limits: MemoryLimiter,
        outbound_http: OutboundHttp,
        network: Arc<Network>,
        actor_cache: ActorCacheScope,
    ) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            limits,
            http: WasiHttpCtx::new(),
            outbound_http,
            network,
            pending_lookups: Vec::new(),
            actor_cache,
            computing: Vec::new(),
        }
    }

    /// The view of the gated name lookup ([`crate::outbound::GatedLookup`]).
    pub(crate) fn gated_lookup(&mut self) -> GatedLookupView<'_> {
        GatedLookupView {
            sockets: WasiSocketsCtxView {
                ctx: self.wasi.sockets(),
                table: &mut self.table,
            },
            network: &self.network,
            pending: &mut self.pending_lookups,
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

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound_http,
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
