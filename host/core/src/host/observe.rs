//! What a [`Host`] reports about itself: counters, warm instances, store
//! latency and health (for `stats`, `/metrics` and `/readyz`).

use std::sync::Arc;
use std::time::Duration;

use super::Host;
use crate::error::HostError;
use crate::memo::{ErrorKind, StoreLatency};
use crate::memory_budget::{MemoryBudget, MemoryBudgetUsage};
use crate::stats::{ExportCounters, StatsRow};
use crate::store::{StoreErrorKind, StoreUsage};

impl Host {
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

    /// The worker-wide guest memory budget: its size, what live instances
    /// reserve and how many calls wait (for metrics); `None` without one.
    pub fn guest_memory(&self) -> Option<MemoryBudgetUsage> {
        self.memo.runner().memory_budget().map(MemoryBudget::usage)
    }

    /// Latency of the store's lookups and writes (for metrics).
    pub fn store_latency(&self) -> &StoreLatency {
        self.memo.store_latency()
    }

    /// Calls that failed before naming a loaded export (an unknown
    /// component, export or activity type), by kind (for metrics).
    pub fn unrouted_calls(&self) -> [(ErrorKind, u64); ErrorKind::ALL.len()] {
        self.stats.unrouted()
    }

    /// The live counters of every export (for metrics).
    pub fn counters(&self) -> Vec<(String, String, Arc<ExportCounters>)> {
        self.stats.counters_by_export()
    }

    /// Adds what this host counted since the last flush to the counters its
    /// store keeps for every worker (Redis does; the memory store keeps none),
    /// and what every store buffered (Redis: the hits of each entry).
    /// If the store fails, the counts are kept and added by a later flush.
    pub async fn flush_stats(&self) -> Result<(), HostError> {
        for store in self.memo.stores().all() {
            store.flush().await?;
        }
        let deltas = self.stats.take_deltas();
        if deltas.is_empty() {
            return Ok(());
        }
        let store = self.memo.stores().default_store();
        if let Err(error) = store.add_stats(&deltas).await {
            // Kept for the next flush, when the store may be back.
            self.stats.give_back(&deltas);
            return Err(error.into());
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
                match host.flush_stats().await {
                    Ok(()) => {}
                    // The store-down event said it already; the counters wait.
                    Err(HostError::Store(error)) if error.kind == StoreErrorKind::Unavailable => {
                        tracing::debug!(%error, "counters kept until the store is back");
                    }
                    Err(error) => tracing::warn!(
                        %error,
                        "counters not added to the store's shared counters yet; kept for the next flush"
                    ),
                }
            }
        })
    }

    /// What the host's store holds and evicted, if it says (the memory
    /// store and Redis do; a tiered store tells Redis's figures).
    pub async fn store_usage(&self) -> Result<Option<StoreUsage>, HostError> {
        Ok(self.memo.stores().default_store().usage().await?)
    }

    /// Whether every store is serving requests (a shared store may be down),
    /// as the last requests found.
    pub fn store_is_healthy(&self) -> bool {
        self.memo.stores().all().all(|store| store.is_healthy())
    }

    /// Whether every store answers now (a readiness check: a shared store is
    /// pinged, so a worker that has not called yet, or whose store came
    /// back while it was idle, answers true to the fact).
    pub async fn store_is_ready(&self) -> bool {
        for store in self.memo.stores().all() {
            if store.ping().await.is_err() {
                return false;
            }
        }
        true
    }

    /// The counters the store keeps for every worker, or `None` if it keeps
    /// none (the memory store).
    pub async fn shared_stats(&self) -> Result<Option<Vec<StatsRow>>, HostError> {
        Ok(self.memo.stores().default_store().stats().await?)
    }
}
