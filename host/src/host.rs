//! [`Host`]: the library's front door. Loads components by name, calls their
//! exports through the memoizer, invalidates and reports.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustc_hash::FxHashMap;
use wasmtime::component::Val;
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::actor_cache::{ActorCache, DEFAULT_ACTOR_CACHE_BYTES};
use crate::capabilities::Capabilities;
use crate::component::{ActivityComponent, ActivityExport, ExportLookupError, LoadError};
use crate::engine::EngineOptions;
use crate::limits::Limits;
use crate::memo::{CallError, CallOptions, CallReport, Memoizer, StoreLatency};
use crate::policy::RulesConfig;
use crate::pool::InstanceMode;
use crate::runner::Runner;
use crate::sandbox::Sandbox;
use crate::stats::{ExportCounters, StatsRegistry, StatsRow};
use crate::store::{CacheStore, MemoryStore, Slot, StoreError, Stores};

/// Why a [`Host`] operation on a loaded component failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No component is loaded under that name.
    #[error("no component named `{0}` is loaded")]
    UnknownComponent(String),
    /// The export name does not address one exported function.
    #[error(transparent)]
    Export(#[from] ExportLookupError),
    /// The WAVE text is not a call of that function.
    #[error("cannot parse `{text}`: {message}")]
    Wave {
        /// The invocation as given.
        text: String,
        /// What is wrong with it.
        message: String,
    },
    /// The call itself failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Invalidation asked of an export whose rule does not cache it.
    #[error("`{0}` is not cached (its policy is no-cache), so it has no entries")]
    NotCached(String),
    /// The store failed to invalidate.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Configures a [`Host`]. Defaults: the in-memory actor store (256 MiB),
/// a 64 MiB actor cache, each component's declared rules unchanged
/// (undeclared exports not cached), [`Limits::default`] and no capabilities
/// for every component,
/// the pooling allocator, no compile cache.
pub struct HostBuilder {
    engine: EngineOptions,
    stores: Stores,
    rules: RulesConfig,
    guest_stderr: Option<MemoryOutputPipe>,
    instances: FxHashMap<String, InstanceMode>,
    sandboxes: FxHashMap<String, Sandbox>,
    actor_cache_bytes: u64,
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            stores: Stores::new(Arc::new(MemoryStore::default())),
            rules: RulesConfig::default(),
            guest_stderr: None,
            instances: FxHashMap::default(),
            sandboxes: FxHashMap::default(),
            actor_cache_bytes: DEFAULT_ACTOR_CACHE_BYTES,
        }
    }
}

impl HostBuilder {
    /// Stores cached results in `store` instead of the in-memory default.
    pub fn store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.stores.set_default(store);
        self
    }

    /// Adds a store that rules can keep an export's results in, by `name`
    /// (a rule's `store = "NAME"`).
    pub fn named_store(mut self, name: &str, store: Arc<dyn CacheStore>) -> Self {
        self.stores.insert(name, store);
        self
    }

    /// Keeps compiled components in `directory` (`None`, the default:
    /// compile every component when it loads). A second load of the same
    /// component, by this or any later host, then skips compilation.
    pub fn compile_cache(mut self, directory: Option<PathBuf>) -> Self {
        self.engine.compile_cache = directory;
        self
    }

    /// Whether instances come from the pooling allocator (default: yes).
    pub fn pooling_allocator(mut self, pooling: bool) -> Self {
        self.engine.pooling = pooling;
        self
    }

    /// Bounds the bytes of helper results the actor cache keeps for all
    /// components together (default: 64 MiB); the least likely to be used
    /// again are evicted first.
    pub fn actor_cache_bytes(mut self, bytes: u64) -> Self {
        self.actor_cache_bytes = bytes;
        self
    }

    /// Overrides declared rules (applied to every component loaded later).
    pub fn rules(mut self, rules: RulesConfig) -> Self {
        self.rules = rules;
        self
    }

    /// How calls of `component` get instances (default: a fresh one per call).
    pub fn instance_mode(mut self, component: &str, mode: InstanceMode) -> Self {
        self.instances.insert(component.to_owned(), mode);
        self
    }

    /// The resource limits of `component`'s calls (default: [`Limits::default`]).
    pub fn limits(mut self, component: &str, limits: Limits) -> Self {
        self.sandboxes
            .entry(component.to_owned())
            .or_default()
            .limits = limits;
        self
    }

    /// What `component`'s guests may reach (default: nothing).
    pub fn capabilities(mut self, component: &str, capabilities: Capabilities) -> Self {
        self.sandboxes
            .entry(component.to_owned())
            .or_default()
            .capabilities = capabilities;
        self
    }

    /// Sends guests' stderr to `pipe` instead of the host's stderr.
    pub fn capture_guest_stderr(mut self, pipe: MemoryOutputPipe) -> Self {
        self.guest_stderr = Some(pipe);
        self
    }

    /// Creates the engine and the host.
    pub fn build(self) -> anyhow::Result<Host> {
        let mut engine = self.engine.clone();
        engine.max_table_elements = self
            .sandboxes
            .values()
            .map(|sandbox| sandbox.limits.max_table_elements)
            .fold(engine.max_table_elements, usize::max);
        let engine = crate::engine::new_engine(&engine)?;
        crate::engine::start_epoch_ticker(&engine)?;
        let stats = Arc::new(StatsRegistry::default());
        let actor_cache = ActorCache::new(self.actor_cache_bytes, stats.clone());
        let runner = Runner::new(&engine, actor_cache, self.guest_stderr)?;
        Ok(Host {
            memo: Memoizer::new(runner, self.stores),
            rules: self.rules,
            instances: self.instances,
            sandboxes: self.sandboxes,
            stats,
            components: RwLock::default(),
        })
    }
}

/// Runs activity components and memoizes their exported calls.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// let host = activity_host::Host::builder().build()?;
/// host.load_file("users", "target/wasm32-wasip2/guest/users.wasm").await?;
/// let first = host.call_wave("users", "fetch-user(123)").await?;
/// let second = host.call_wave("users", "fetch-user(123)").await?;
/// assert_eq!(second.outcome, activity_host::Outcome::Hit);
/// assert_eq!(first.results, second.results);
/// # Ok(()) }
/// ```
pub struct Host {
    memo: Memoizer,
    rules: RulesConfig,
    instances: FxHashMap<String, InstanceMode>,
    sandboxes: FxHashMap<String, Sandbox>,
    stats: Arc<StatsRegistry>,
    components: RwLock<FxHashMap<String, Arc<ActivityComponent>>>,
}

impl Host {
    /// A builder with the defaults documented on [`HostBuilder`].
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Loads the component in file `path` as `name`, replacing any component
    /// loaded under that name before.
    pub async fn load_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
    ) -> Result<Arc<ActivityComponent>, LoadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load_bytes(name, &bytes).await
    }

    /// Loads a component from `bytes` as `name`, replacing any component
    /// loaded under that name before.
    pub async fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Arc<ActivityComponent>, LoadError> {
        let mode = self.instances.get(name).copied().unwrap_or_default();
        let sandbox = self.sandboxes.get(name).cloned().unwrap_or_default();
        let component = ActivityComponent::load(
            self.memo.runner(),
            name,
            bytes,
            &self.rules,
            &self.stats,
            mode,
            sandbox,
        )
        .await?;
        if let Some((export, store)) = component.exports.iter().find_map(|export| {
            let store = export.rule.store.as_deref()?;
            (!self.memo.stores().contains(store)).then(|| (export.path.clone(), store.to_owned()))
        }) {
            return Err(LoadError::UnknownStore { export, store });
        }
        let component = Arc::new(component);
        self.components
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), component.clone());
        Ok(component)
    }

    /// The component loaded as `name`.
    pub fn component(&self, name: &str) -> Option<Arc<ActivityComponent>> {
        self.components
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }

    /// Calls `export` of `component` with `args`, memoized by the export's rule.
    pub async fn call(
        &self,
        component: &str,
        export: &str,
        args: &[Val],
    ) -> Result<CallReport, HostError> {
        self.call_with(component, export, args, CallOptions::default())
            .await
    }

    /// [`Host::call`] with per-call options (such as `refresh`).
    pub async fn call_with(
        &self,
        component: &str,
        export: &str,
        args: &[Val],
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let loaded = self.loaded(component)?;
        let export = loaded.export(export)?;
        Ok(self.memo.call(&loaded, export, args, options).await?)
    }

    /// Calls a function of `component` written as WAVE text, such as
    /// `fetch-user(123)` or `api#send-email("a@example.com")` (the syntax of
    /// `wasmtime run --invoke`).
    pub async fn call_wave(
        &self,
        component: &str,
        invocation: &str,
    ) -> Result<CallReport, HostError> {
        self.call_wave_with(component, invocation, CallOptions::default())
            .await
    }

    /// [`Host::call_wave`] with per-call options (such as `refresh`).
    pub async fn call_wave_with(
        &self,
        component: &str,
        invocation: &str,
        options: CallOptions,
    ) -> Result<CallReport, HostError> {
        let loaded = self.loaded(component)?;
        let (export, args) = parse_invocation(&loaded, invocation)?;
        Ok(self.memo.call(&loaded, export, &args, options).await?)
    }

    /// Removes the cached result of `export` of `component` called with
    /// `args` (however the arguments are written, and whatever the values of
    /// parameters the rule ignores). Returns the entry's key.
    pub async fn invalidate_entry(
        &self,
        component: &str,
        export: &str,
        args: &[Val],
    ) -> Result<CacheKeyText, HostError> {
        let loaded = self.loaded(component)?;
        let export = loaded.export(export)?;
        self.remove_entry(&loaded, export, args).await
    }

    /// [`Host::invalidate_entry`] with the call written as WAVE text.
    pub async fn invalidate_entry_wave(
        &self,
        component: &str,
        invocation: &str,
    ) -> Result<CacheKeyText, HostError> {
        let loaded = self.loaded(component)?;
        let (export, args) = parse_invocation(&loaded, invocation)?;
        self.remove_entry(&loaded, export, &args).await
    }

    /// Makes every cached result of `export` of `component` unreachable, in O(1).
    pub async fn invalidate_export(&self, component: &str, export: &str) -> Result<(), HostError> {
        let loaded = self.loaded(component)?;
        let export = loaded.export(export)?;
        let store = self.memo.stores().for_rule(&export.rule);
        Ok(store.invalidate_export(&loaded.name, &export.path).await?)
    }

    /// Makes every cached result of `component` unreachable, in O(1) per
    /// store.
    pub async fn invalidate_component(&self, component: &str) -> Result<(), HostError> {
        for store in self.memo.stores().all() {
            store.invalidate_component(component).await?;
        }
        Ok(())
    }

    /// Counters of every export called or loaded since the host started, by
    /// (component, export path).
    pub fn stats(&self) -> Vec<StatsRow> {
        self.stats.snapshot()
    }

    /// Warm instances per component in actor mode (for metrics), and drops
    /// those idle for longer than their idle TTL.
    pub fn warm_instances(&self) -> Vec<(String, usize)> {
        self.component_names()
            .into_iter()
            .filter_map(|name| {
                let component = self.component(&name)?;
                let pool = component.pool.as_ref()?;
                pool.sweep();
                Some((name, pool.warm()))
            })
            .collect()
    }

    /// Latency of the store's lookups and writes (for metrics).
    pub fn store_latency(&self) -> &StoreLatency {
        self.memo.store_latency()
    }

    /// The live counters of every export (for metrics).
    pub fn counters(&self) -> Vec<(String, String, Arc<ExportCounters>)> {
        self.stats.counters_by_export()
    }

    /// Adds what this host counted since the last flush to the counters its
    /// store keeps for every worker (Redis does; the memory store keeps none).
    pub async fn flush_stats(&self) -> Result<(), HostError> {
        let deltas = self.stats.take_deltas();
        if !deltas.is_empty() {
            self.memo
                .stores()
                .default_store()
                .add_stats(&deltas)
                .await?;
        }
        Ok(())
    }

    /// Flushes the counters ([`Host::flush_stats`]) every `every` in a
    /// background task, until the task is aborted: long-lived workers keep
    /// the shared counters current.
    pub fn keep_flushing_stats(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let host = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = host.flush_stats().await {
                    tracing::warn!(%error, "counters not added to the store's shared counters");
                }
            }
        })
    }

    /// Whether every store is serving requests (a shared store may be down).
    pub fn store_is_healthy(&self) -> bool {
        self.memo.stores().all().all(|store| store.is_healthy())
    }

    /// The names of the loaded components, sorted.
    pub fn component_names(&self) -> Vec<String> {
        let components = self
            .components
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<String> = components.keys().cloned().collect();
        names.sort();
        names
    }

    /// The counters the store keeps for every worker, or `None` if it keeps
    /// none (the memory store).
    pub async fn shared_stats(&self) -> Result<Option<Vec<StatsRow>>, HostError> {
        Ok(self.memo.stores().default_store().stats().await?)
    }

    async fn remove_entry(
        &self,
        component: &ActivityComponent,
        export: &ActivityExport,
        args: &[Val],
    ) -> Result<CacheKeyText, HostError> {
        let key = self
            .memo
            .key(component, export, args)?
            .ok_or_else(|| HostError::NotCached(export.path.clone()))?;
        let slot = Slot {
            key: &key,
            component: &component.name,
            export: &export.path,
        };
        let store = self.memo.stores().for_rule(&export.rule);
        store.remove(slot).await?;
        Ok(key.short())
    }

    fn loaded(&self, name: &str) -> Result<Arc<ActivityComponent>, HostError> {
        self.component(name)
            .ok_or_else(|| HostError::UnknownComponent(name.to_owned()))
    }
}

/// The short hex form of a cache key, as shown in logs.
pub type CacheKeyText = String;

/// The export and typed arguments of a WAVE invocation such as
/// `api#fetch-user(123)`.
fn parse_invocation<'c>(
    component: &'c ActivityComponent,
    invocation: &str,
) -> Result<(&'c ActivityExport, Vec<Val>), HostError> {
    let (name, params) = invocation.split_at(invocation.find('(').unwrap_or(invocation.len()));
    let export = component.export(name.trim())?;
    // WAVE names are plain labels; parse the call under a stand-in label of
    // the same length so error positions still point into `invocation`.
    let stand_in = format!("{}{params}", "f".repeat(name.len()));
    let args = UntypedFuncCall::parse(&stand_in)
        .and_then(|call| call.to_wasm_params(&export.param_types))
        .map_err(|error| HostError::Wave {
            text: invocation.to_owned(),
            message: format!("{error}; expected {}", export.signature),
        })?;
    Ok((export, args))
}
