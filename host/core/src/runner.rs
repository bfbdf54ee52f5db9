//! Instances and calls: the only place that creates wasmtime stores.
//!
//! By default each call runs in a fresh instance (strict isolation: no state
//! leaks from one call to the next, and an instance that trapped is never
//! reused); components in actor mode reuse warm instances ([`crate::pool`]).
//! Guests get WASI preview 2 and `wasi:http` with nothing granted but what
//! their component's [`Sandbox`] grants (directories, environment variables,
//! stdout and stderr, outbound hosts and secrets). Guest stderr (and stdout, if granted) goes to the
//! host's stderr, to a pipe the embedder captures, or to the log.

use std::sync::Arc;

use anyhow::Context;
use wasmtime::component::{
    Component, ComponentType, Func, Instance, InstancePre, Linker, Lower, Val,
};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use crate::actor_cache::{ActorCache, ActorCacheScope};
use crate::codec;
use crate::component::{ActivityExport, ExportHandle};
use crate::contract::{self, Activity, RULES_INTERFACE};
use crate::guest_output::{GuestLog, GuestOutput};
use crate::memo::ErrorKind;
use crate::memory_budget::MemoryBudget;
use crate::outbound::{self, GatedLookup};
use crate::payload::{Args, ByteArg, ByteKind};
use crate::pool::WarmInstance;
use crate::sandbox::Sandbox;
use crate::state::HostState;

/// Why running a call failed: the kind (trap, timeout, memory,
/// instantiate) and the error chain.
pub struct RunFailure {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The error, with the guest's backtrace when it trapped.
    pub error: anyhow::Error,
}

impl RunFailure {
    /// A failure of `store`'s instance: [`ErrorKind::Memory`] if it hit a
    /// memory or table limit, else `kind`.
    fn of(store: &Store<HostState>, kind: ErrorKind, error: anyhow::Error) -> Self {
        let kind = if store.data().limits.exceeded() {
            ErrorKind::Memory
        } else {
            kind
        };
        Self { kind, error }
    }
}

/// Creates instances of loaded components and calls their exports.
pub struct Runner {
    engine: Engine,
    linker: Linker<HostState>,
    actor_cache: Arc<ActorCache>,
    guest_output: GuestOutput,
    memory_budget: Option<MemoryBudget>,
}

impl Runner {
    /// A runner linking WASI preview 2 and the `actor-cache` import, served
    /// by `actor_cache`. Guest output goes where `guest_output` says; every
    /// instance reserves its memory from `memory_budget`, if there is one.
    pub(crate) fn new(
        engine: &Engine,
        actor_cache: Arc<ActorCache>,
        guest_output: GuestOutput,
        memory_budget: Option<MemoryBudget>,
    ) -> anyhow::Result<Self> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
        // Name lookups resolve granted names only: replaces wasmtime-wasi's.
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::add_to_linker::<_, GatedLookup>(
            &mut linker,
            HostState::gated_lookup,
        )
        .map_err(anyhow::Error::from)?;
        linker.allow_shadowing(false);
        contract::actor_cache::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .map_err(anyhow::Error::from)?;
        Ok(Self {
            engine: engine.clone(),
            linker,
            actor_cache,
            guest_output,
            memory_budget,
        })
    }

    /// The engine components must be compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The replica's actor cache.
    pub fn actor_cache(&self) -> &Arc<ActorCache> {
        &self.actor_cache
    }

    /// The worker-wide bound on guest memory, if one is set.
    pub fn memory_budget(&self) -> Option<&MemoryBudget> {
        self.memory_budget.as_ref()
    }

    /// Resolves `component`'s imports once, so each call only instantiates.
    pub fn prepare(&self, component: &Component) -> anyhow::Result<InstancePre<HostState>> {
        self.linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("the component imports something this host does not provide")
    }

    async fn instantiate(
        &self,
        pre: &InstancePre<HostState>,
        actor_cache: &ActorCacheScope,
        sandbox: &Sandbox,
    ) -> Result<(Store<HostState>, Instance), RunFailure> {
        let mut wasi = WasiCtxBuilder::new();
        let granted = &sandbox.capabilities;
        granted.grant(&mut wasi).map_err(|error| RunFailure {
            kind: ErrorKind::Instantiate,
            error,
        })?;
        // Guest output goes to the host's stderr, the embedder's pipe or the
        // log; what is not granted goes nowhere.
        match &self.guest_output {
            GuestOutput::Capture(pipe) => {
                if granted.stderr {
                    wasi.stderr(pipe.clone());
                }
                if granted.stdout {
                    wasi.stdout(pipe.clone());
                }
            }
            GuestOutput::Log => {
                let component = actor_cache.component();
                if granted.stderr {
                    wasi.stderr(GuestLog::new(component.clone(), "stderr"));
                }
                if granted.stdout {
                    wasi.stdout(GuestLog::new(component.clone(), "stdout"));
                }
            }
            GuestOutput::Inherit => {
                if granted.stderr {
                    wasi.inherit_stderr();
                }
                if granted.stdout {
                    wasi.stdout(tokio::io::stderr());
                }
            }
        }
        let (network, outbound_http) = outbound::grant(&mut wasi, actor_cache.component(), sandbox);
        // Waits here while the worker's guests hold the whole budget.
        let reservation = match &self.memory_budget {
            Some(budget) => Some(budget.reserve(sandbox.limits.max_memory_bytes as u64).await),
            None => None,
        };
        let state = HostState::new(
            wasi.build(),
            sandbox.limits.limiter(reservation),
            outbound_http,
            network,
            actor_cache.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_hostcall_fuel(sandbox.limits.hostcall_fuel());
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        match pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(error) => {
                let error = anyhow::Error::from(error).context("instantiation failed");
                Err(RunFailure::of(&store, ErrorKind::Instantiate, error))
            }
        }
    }

    /// The rules the component declares through its `rules` export, or
    /// `None` if it does not export that interface.
    pub async fn declared_rules(
        &self,
        pre: &InstancePre<HostState>,
        actor_cache: &ActorCacheScope,
        sandbox: &Sandbox,
    ) -> anyhow::Result<Option<Vec<contract::activity::cache::types::Rule>>> {
        if pre
            .component()
            .get_export_index(None, RULES_INTERFACE)
            .is_none()
        {
            return Ok(None);
        }
        let (mut store, instance) = self
            .instantiate(pre, actor_cache, sandbox)
            .await
            .map_err(|failure| failure.error)?;
        let activity = Activity::new(&mut store, &instance)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "the component's `{RULES_INTERFACE}` export does not match this host's contract"
                )
            })?;
        let rules = activity
            .activity_cache_rules()
            .call_declare(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .context("the component's `rules.declare` failed")?;
        Ok(Some(rules))
    }

    /// Calls `handle`'s export with `args`: in a warm instance of its pool
    /// in actor mode, else in a fresh one, in the component's sandbox. An
    /// instance whose call fails is dropped.
    pub(crate) async fn call(
        &self,
        handle: &ExportHandle,
        args: &Args<'_>,
    ) -> Result<Returned, RunFailure> {
        let (component, export) = (handle.component(), handle.export());
        let (pre, sandbox) = (&component.pre, &component.sandbox);
        let scope = &component.actor_cache;
        let Some(pool) = &component.pool else {
            let (store, instance) = self.instantiate(pre, scope, sandbox).await?;
            let mut fresh = WarmInstance::new(store, instance);
            return call_in(&mut fresh, export, args, sandbox).await;
        };
        let (_slot, warm) = pool.acquire().await;
        let mut warm = match warm {
            Some(warm) => warm,
            None => {
                let (store, instance) = self.instantiate(pre, scope, sandbox).await?;
                WarmInstance::new(store, instance)
            }
        };
        warm.store.set_epoch_deadline(1);
        warm.store.data().network.start_call();
        let results = call_in(&mut warm, export, args, sandbox).await?;
        if !warm.store.data().is_computing() {
            pool.release(warm);
        } else {
            // It returned holding an unfinished actor-cache computation:
            // dropping the instance releases the instances waiting for it.
            tracing::warn!(
                "an instance returned with an actor-cache computation unfinished; dropped it"
            );
        }
        Ok(results)
    }
}

/// What a call returned.
pub(crate) enum Returned {
    /// One value per result.
    Values(Vec<Val>),
    /// The one result of a byte export, of this kind, in a buffer laid out
    /// as its cache entry ([`codec::bytes_entry_buffer`]).
    Bytes(ByteKind, Vec<u8>),
}

async fn call_in(
    target: &mut WarmInstance,
    export: &ActivityExport,
    args: &Args<'_>,
    sandbox: &Sandbox,
) -> Result<Returned, RunFailure> {
    let func = target
        .instance
        .get_func(&mut target.store, export.index)
        .context("export is not a function")
        .map_err(|error| RunFailure {
            kind: ErrorKind::Instantiate,
            error,
        })?;
    let timeout = sandbox.limits.timeout;
    // The guest yields at every epoch tick, so the timeout can stop it.
    let called = tokio::time::timeout(timeout, invoke(&mut target.store, func, export, args)).await;
    match called {
        Ok(Ok(returned)) => Ok(returned),
        Ok(Err(error)) => Err(RunFailure::of(&target.store, ErrorKind::Trap, error)),
        Err(_) => Err(RunFailure {
            kind: ErrorKind::Timeout,
            error: anyhow::anyhow!(
                "call stopped after its time limit ({})",
                humantime::format_duration(timeout)
            ),
        }),
    }
}

/// Calls `func`: with values through wasmtime's dynamic API, or with the
/// bytes of a byte export's argument through a typed call.
async fn invoke(
    store: &mut Store<HostState>,
    func: Func,
    export: &ActivityExport,
    args: &Args<'_>,
) -> anyhow::Result<Returned> {
    match (args, export.byte_signature) {
        (Args::Values(values), _) => {
            let mut results = vec![Val::Bool(false); export.result_types.len()];
            func.call_async(&mut *store, values, &mut results)
                .await
                .map_err(anyhow::Error::from)?;
            Ok(Returned::Values(results))
        }
        (Args::Bytes(ByteArg::List(bytes)), Some(signature)) => {
            call_typed(store, func, &**bytes, signature.result).await
        }
        (Args::Bytes(ByteArg::String(text)), Some(signature)) => {
            call_typed(store, func, *text, signature.result).await
        }
        (Args::Bytes(_), None) => anyhow::bail!("`{}` does not take bytes", export.path),
    }
}

/// Calls a byte export `func` with `param` (a byte slice or a string) and
/// lays its result of kind `result` out as a cache entry.
async fn call_typed<P>(
    store: &mut Store<HostState>,
    func: Func,
    param: &P,
    result: ByteKind,
) -> anyhow::Result<Returned>
where
    P: Lower + ComponentType + Sync + ?Sized,
{
    // Lifted as owned values: the guest frees its result once the call
    // returns.
    let buffer = match result {
        ByteKind::List => {
            let typed = func.typed::<(&P,), (Vec<u8>,)>(&*store);
            let (list,) = typed
                .map_err(anyhow::Error::from)?
                .call_async(&mut *store, (param,))
                .await
                .map_err(anyhow::Error::from)?;
            codec::bytes_entry_buffer(list)
        }
        ByteKind::String => {
            let typed = func.typed::<(&P,), (String,)>(&*store);
            let (text,) = typed
                .map_err(anyhow::Error::from)?
                .call_async(&mut *store, (param,))
                .await
                .map_err(anyhow::Error::from)?;
            codec::bytes_entry_buffer(text.into_bytes())
        }
    };
    Ok(Returned::Bytes(result, buffer))
}
