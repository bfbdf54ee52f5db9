//! [`HostBuilder`]: a host's store, rules, engine and per-component settings.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::Host;
use crate::actor_cache::{ActorCache, DEFAULT_ACTOR_CACHE_BYTES};
use crate::capabilities::Capabilities;
use crate::engine::EngineOptions;
use crate::guest_output::GuestOutput;
use crate::limits::Limits;
use crate::load::ComponentSettings;
use crate::memo::Memoizer;
use crate::memory_budget::MemoryBudget;
use crate::policy::RulesConfig;
use crate::pool::InstanceMode;
use crate::runner::Runner;
use crate::stats::StatsRegistry;
use crate::store::{CacheStore, MemoryStore, Stores};

/// Configures a [`Host`]. Defaults: the in-memory actor store (256 MiB),
/// a 64 MiB actor cache, each component's declared rules unchanged
/// (undeclared exports not cached), [`Limits::default`] and no capabilities
/// for every component,
/// the pooling allocator, no compile cache.
pub struct HostBuilder {
    engine: EngineOptions,
    stores: Stores,
    rules: RulesConfig,
    guest_output: GuestOutput,
    components: FxHashMap<String, ComponentSettings>,
    actor_cache_bytes: u64,
    max_total_memory_bytes: Option<u64>,
    front_end: &'static str,
}

impl Default for HostBuilder {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            stores: Stores::new(Arc::new(MemoryStore::default())),
            rules: RulesConfig::default(),
            guest_output: GuestOutput::Inherit,
            components: FxHashMap::default(),
            actor_cache_bytes: DEFAULT_ACTOR_CACHE_BYTES,
            max_total_memory_bytes: None,
            front_end: "library",
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

    /// Bounds the linear memory of all guest instances together (default:
    /// no bound beyond each component's `max-memory-bytes`): each instance
    /// reserves its component's `max-memory-bytes` from this budget before
    /// it is created, so a call that does not fit waits until running
    /// calls end (hits never wait: they create no instance).
    pub fn max_total_memory_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_total_memory_bytes = bytes;
        self
    }

    /// Overrides declared rules (applied to every component loaded later).
    pub fn rules(mut self, rules: RulesConfig) -> Self {
        self.rules = rules;
        self
    }

    /// How calls of `component` get instances (default: a fresh one per call).
    pub fn instance_mode(mut self, component: &str, mode: InstanceMode) -> Self {
        self.settings(component).instances = mode;
        self
    }

    /// The resource limits of `component`'s calls (default: [`Limits::default`]).
    pub fn limits(mut self, component: &str, limits: Limits) -> Self {
        self.settings(component).sandbox.limits = limits;
        self
    }

    /// What `component`'s guests may reach (default: nothing).
    pub fn capabilities(mut self, component: &str, capabilities: Capabilities) -> Self {
        self.settings(component).sandbox.capabilities = capabilities;
        self
    }

    /// Names what drives this host (`cli`, `http`, `temporal`; default
    /// `library`) in the events it logs, such as who invalidated entries.
    pub fn front_end(mut self, name: &'static str) -> Self {
        self.front_end = name;
        self
    }

    /// Sends guests' stderr to `pipe` instead of the host's stderr.
    pub fn capture_guest_stderr(mut self, pipe: MemoryOutputPipe) -> Self {
        self.guest_output = GuestOutput::Capture(pipe);
        self
    }

    /// Writes each line guests print (stderr, and stdout where granted) as
    /// a log record (target `activity_host::guest`, fields `component` and
    /// `stream`) instead of passing it through as written: for hosts that
    /// log JSON.
    pub fn log_guest_output(mut self) -> Self {
        self.guest_output = GuestOutput::Log;
        self
    }

    fn settings(&mut self, component: &str) -> &mut ComponentSettings {
        self.components.entry(component.to_owned()).or_default()
    }

    /// Creates the engine and the host.
    pub fn build(self) -> Result<Host, BuildError> {
        let mut engine = self.engine.clone();
        engine.max_table_elements = self
            .components
            .values()
            .map(|settings| settings.sandbox.limits.max_table_elements)
            .fold(engine.max_table_elements, usize::max);
        let engine = crate::engine::new_engine(&engine).map_err(BuildError::engine)?;
        crate::engine::start_epoch_ticker(&engine).map_err(BuildError::engine)?;
        let stats = Arc::new(StatsRegistry::default());
        let actor_cache = ActorCache::new(self.actor_cache_bytes, stats.clone());
        let memory_budget = self.max_total_memory_bytes.map(MemoryBudget::new);
        let runner = Runner::new(&engine, actor_cache, self.guest_output, memory_budget)
            .map_err(BuildError::engine)?;
        Ok(Host {
            memo: Memoizer::new(runner, self.stores),
            rules: self.rules,
            settings: self.components,
            stats,
            components: RwLock::default(),
            purity_warned: Default::default(),
            front_end: self.front_end,
        })
    }
}

/// Why a [`Host`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The wasmtime engine could not be created with these settings (such
    /// as a compile-cache directory that cannot be used).
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
}

impl BuildError {
    fn engine(error: anyhow::Error) -> Self {
        Self::Engine(format!("{error:#}"))
    }
}
