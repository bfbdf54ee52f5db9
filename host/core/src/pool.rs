//! Warm instances of one component: actor mode.
//!
//! By default every call runs in a fresh instance: no state survives a call,
//! which is what memoization assumes (a result depends on the arguments, not
//! on what ran before). A component can opt into *actor mode* instead, like a
//! Union actor replica: up to `max-instances` instances stay warm, so guest
//! memory such as a `OnceLock` holding a loaded model survives between calls
//! on this worker. A warm instance is dropped after `idle-ttl` without calls,
//! after `max-uses` calls, and at once if a call on it traps or is cancelled
//! (a trapped instance is poisoned and never reused).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::Store;
use wasmtime::component::Instance;

use crate::memory_budget::IdleInstances;
use crate::state::HostState;

/// How calls of a component get their instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstanceMode {
    /// A fresh instance per call (the default: strict isolation).
    #[default]
    Fresh,
    /// Actor mode: reuse warm instances.
    Warm(WarmConfig),
}

/// Limits of actor mode (as configuration: kebab-case keys, every one
/// optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct WarmConfig {
    /// Most instances of the component at once, warm or busy; further calls
    /// wait for one (default 4).
    pub max_instances: usize,
    /// A warm instance unused this long is dropped (default 5 min).
    #[serde(with = "humantime_serde")]
    pub idle_ttl: Duration,
    /// An instance is dropped after this many calls (default 10 000).
    pub max_uses: u64,
}

impl Default for WarmConfig {
    fn default() -> Self {
        Self {
            max_instances: 4,
            idle_ttl: Duration::from_secs(300),
            max_uses: 10_000,
        }
    }
}

/// An instance kept between calls.
pub struct WarmInstance {
    /// The instance's store.
    pub store: Store<HostState>,
    /// The instance.
    pub instance: Instance,
    uses: u64,
    idle_since: Instant,
}

impl WarmInstance {
    /// Wraps a freshly created instance.
    pub fn new(store: Store<HostState>, instance: Instance) -> Self {
        Self {
            store,
            instance,
            uses: 0,
            idle_since: Instant::now(),
        }
    }
}

/// The warm instances of one component.
pub struct InstancePool {
    config: WarmConfig,
    idle: Mutex<Vec<WarmInstance>>,
    slots: Semaphore,
}

impl InstancePool {
    /// An empty pool with `config`'s limits.
    pub fn new(config: WarmConfig) -> Self {
        Self {
            config,
            idle: Mutex::default(),
            slots: Semaphore::new(config.max_instances.max(1)),
        }
    }

    /// Waits for a free slot, then hands out a warm instance if one is idle
    /// (the caller creates one otherwise). Hold the permit for the call.
    pub async fn acquire(&self) -> (SemaphorePermit<'_>, Option<WarmInstance>) {
        let permit = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.retain(|warm| warm.idle_since.elapsed() < self.config.idle_ttl);
        (permit, idle.pop())
    }

    /// Returns an instance after a successful call (unless it is used up,
    /// or calls wait for the memory it holds).
    pub fn release(&self, mut warm: WarmInstance) {
        warm.uses += 1;
        if warm.uses >= self.config.max_uses {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Checked under the lock `drop_idle` takes: a call that starts
        // waiting either sees this instance pooled (and drops it) or is
        // seen here.
        if warm.store.data().limits.budget_contended() {
            drop(idle);
            return;
        }
        warm.idle_since = Instant::now();
        idle.push(warm);
    }

    /// Drops instances idle for longer than the idle TTL.
    pub fn sweep(&self) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.retain(|warm| warm.idle_since.elapsed() < self.config.idle_ttl);
    }

    /// How many instances are warm (idle) now.
    pub fn warm(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

impl IdleInstances for InstancePool {
    fn drop_idle(&self) {
        // Dropped outside the lock: dropping a store unmaps its memory.
        let dropped = std::mem::take(
            &mut *self
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        drop(dropped);
    }
}
