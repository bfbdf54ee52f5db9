//! The wasmtime [`Engine`] every component of a host is compiled for.

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

/// How often the epoch advances: the granularity of guest yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How the engine is built.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Directory of the on-disk cache of compiled components (`None`: compile
    /// every time). Entries are keyed by a hash of the component's bytes and
    /// of the engine's compilation settings and version, so a changed
    /// component or a new wasmtime never loads stale code.
    pub compile_cache: Option<PathBuf>,
    /// Whether instances come from the pooling allocator (default: yes;
    /// instances are created per call, so instantiation must be cheap).
    pub pooling: bool,
    /// The most elements any component's table may have (its
    /// `max-table-elements`): the pool reserves that much per table.
    pub max_table_elements: usize,
}

impl Default for EngineOptions {
    /// No compile cache; the pooling allocator.
    fn default() -> Self {
        Self {
            compile_cache: None,
            pooling: true,
            max_table_elements: crate::limits::Limits::default().max_table_elements,
        }
    }
}

/// `$XDG_CACHE_HOME/activity-host/compiled`, or `~/.cache/activity-host/compiled`.
pub fn default_compile_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("activity-host").join("compiled"))
}

/// Builds the engine: Cranelift, the component model, the pooling allocator
/// and the compile cache as `options` say.
///
/// Component-model concurrency is switched off: activity exports are plain
/// synchronous functions, and without it a dynamic call is cheaper.
pub fn new_engine(options: &EngineOptions) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    // Guests yield to the async runtime at every epoch tick, so a long or
    // looping call never blocks a runtime thread and can be timed out.
    config.epoch_interruption(true);
    if options.pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(options)));
    }
    if let Some(directory) = &options.compile_cache {
        let mut cache = CacheConfig::new();
        // wasmtime wants an absolute path; a relative one is taken from here.
        let directory = std::path::absolute(directory)
            .with_context(|| format!("compile cache {}", directory.display()))?;
        cache.with_directory(directory);
        let cache = Cache::new(cache).map_err(anyhow::Error::from)?;
        config.cache(Some(cache));
    }
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// Pool sizes for a worker running a handful of components at a time.
fn pooling(options: &EngineOptions) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1_000);
    pool.total_core_instances(2_000);
    pool.total_memories(2_000);
    pool.total_tables(2_000);
    // Room for the largest table a component may have (max-table-elements);
    // reserved lazily like memories.
    pool.table_elements(options.max_table_elements);
    // Linear memories are reserved lazily, so a generous cap costs address
    // space, not RAM.
    pool.max_memory_size(1 << 30);
    pool
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] on a background thread,
/// until the engine is dropped.
pub fn start_epoch_ticker(engine: &Engine) -> anyhow::Result<()> {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("activity-host-epoch".to_owned())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(())
}
