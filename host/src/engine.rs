//! The wasmtime [`Engine`] every component of a host is compiled for.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of guest yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the engine: Cranelift, the component model, and the pooling
/// allocator (instances are created per call, so instantiation must be cheap).
///
/// Component-model concurrency is switched off: activity exports are plain
/// synchronous functions, and without it a dynamic call is cheaper.
pub fn new_engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    // Guests yield to the async runtime at every epoch tick, so a long or
    // looping call never blocks a runtime thread and can be timed out.
    config.epoch_interruption(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling()));
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// Pool sizes for a worker running a handful of components at a time.
fn pooling() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1_000);
    pool.total_core_instances(2_000);
    pool.total_memories(2_000);
    pool.total_tables(2_000);
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
