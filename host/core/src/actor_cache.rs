//! The host side of the `actor-cache` import: a replica-local cache for
//! helper results (Union's `@actor.cache`), namespaced per component build.
//!
//! A guest asks for a helper's result with `fetch(helper, key)`. The answer
//! is the stored result (a hit), or, when nobody on this replica is
//! computing it, a `computation` the guest fills in with `finish` (a miss).
//! An instance that asks while another instance computes the same key waits
//! for that result (single-flight across instances); if the computing
//! instance traps or drops its computation unfinished, the waiters are
//! released and one of them computes. Every fetch is counted and logged like
//! an exported call, under the export name `actor-cache/<helper>`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::call_line::CallLine;
use crate::flight::{Leader, Role, SingleFlight};
use crate::key::CacheKey;
use crate::memo::{ErrorKind, Outcome};
use crate::stats::{Event, ExportCounters, StatsRegistry};
use crate::store::{Found, MemoryStore, MissReason};

/// Default bound on the bytes all components keep in the actor cache: 64 MiB.
pub const DEFAULT_ACTOR_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The replica's actor cache: every component's helper results, the
/// computations in progress, and the counters they are reported in.
pub struct ActorCache {
    entries: MemoryStore,
    computing: Arc<SingleFlight<Bytes>>,
    stats: Arc<StatsRegistry>,
}

impl ActorCache {
    /// A cache holding at most `capacity_bytes` of results, counting into
    /// `stats`.
    pub fn new(capacity_bytes: u64, stats: Arc<StatsRegistry>) -> Arc<Self> {
        Arc::new(Self {
            entries: MemoryStore::new(capacity_bytes),
            computing: Arc::default(),
            stats,
        })
    }

    /// The view of the build `code_hash` of component `component`: its own
    /// namespace, which no other component (or other build) can address.
    pub fn scope(self: &Arc<Self>, component: &Arc<str>, code_hash: &[u8; 32]) -> ActorCacheScope {
        let mut namespace = Sha256::new();
        namespace.update(b"activity-host/actor-cache/v2");
        namespace.update((component.len() as u64).to_le_bytes());
        namespace.update(component.as_bytes());
        namespace.update(code_hash);
        ActorCacheScope {
            cache: self.clone(),
            component: component.clone(),
            namespace: namespace.finalize().into(),
        }
    }
}

/// One component build's view of the replica's actor cache.
#[derive(Clone)]
pub struct ActorCacheScope {
    cache: Arc<ActorCache>,
    component: Arc<str>,
    namespace: [u8; 32],
}

impl ActorCacheScope {
    /// The component whose view this is.
    pub(crate) fn component(&self) -> &Arc<str> {
        &self.component
    }
}

impl ActorCacheScope {
    /// The store key of `helper`'s guest key: guests can only ever address
    /// their own namespace, and two helpers never share a key.
    fn key(&self, helper: &str, guest_key: &[u8]) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update(self.namespace);
        hasher.update((helper.len() as u64).to_le_bytes());
        hasher.update(helper.as_bytes());
        hasher.update(guest_key);
        CacheKey::from_bytes(hasher.finalize().into())
    }

    fn counters(&self, helper: &str) -> Arc<ExportCounters> {
        self.cache
            .stats
            .counters(&self.component, &format!("actor-cache/{helper}"))
    }
}

/// One `fetch` of a helper's result: what its log line and counters name.
struct Fetch {
    scope: ActorCacheScope,
    /// The helper's counters, looked up once per fetch.
    counters: Arc<ExportCounters>,
    helper: String,
    key: CacheKey,
    started: Instant,
    /// Why the first lookup missed.
    miss: Option<MissReason>,
}

/// How a fetch ended.
#[derive(Clone, Copy)]
enum FetchOutcome {
    /// The result was there, or another instance computed it meanwhile.
    Hit,
    /// This instance computed and stored it.
    Miss,
    /// This instance took the computation and dropped it unfinished.
    Abandoned,
}

impl Fetch {
    /// Counts and logs this fetch like an exported call.
    fn report(&self, fetched: FetchOutcome, detail: Option<&str>) {
        let counters = &self.counters;
        let (outcome, error) = match fetched {
            FetchOutcome::Hit => (Outcome::Hit.as_str(), None),
            FetchOutcome::Miss => (Outcome::Miss.as_str(), None),
            FetchOutcome::Abandoned => ("error", Some(ErrorKind::Abandoned)),
        };
        match fetched {
            FetchOutcome::Hit => counters.record(Event::Hit),
            FetchOutcome::Miss => counters.record(Event::Miss),
            FetchOutcome::Abandoned => counters.record_error(ErrorKind::Abandoned),
        }
        let elapsed_us = self.started.elapsed().as_micros() as u64;
        counters.record_latency(elapsed_us);
        CallLine {
            outcome,
            reason: match fetched {
                FetchOutcome::Miss => self.miss.map(MissReason::as_str),
                _ => None,
            },
            error: error.map(ErrorKind::as_str),
            component: Some(&*self.scope.component),
            export: &format!("actor-cache/{}", self.helper),
            key: Some(&self.key),
            policy: Some("actor-cache"),
            store: Some("actor"),
            elapsed_us,
            age: None,
            detail,
        }
        .write();
    }
}

/// A helper result an instance has promised to compute (the guest's
/// `computation` resource). Finishing it stores the result and wakes the
/// waiters; dropping it unfinished (the guest dropped it, or its instance
/// trapped and was discarded) releases them.
pub struct Computation {
    fetch: Fetch,
    leader: Option<Leader<Bytes>>,
}

impl Computation {
    /// The key being computed.
    pub(crate) fn key(&self) -> CacheKey {
        self.fetch.key
    }

    /// Stores `value` and wakes the waiters; an error if already finished.
    pub(crate) fn finish(&mut self, value: Vec<u8>, ttl: Option<Duration>) -> wasmtime::Result<()> {
        let Some(leader) = self.leader.take() else {
            wasmtime::bail!("actor-cache helper `{}` finished twice", self.fetch.helper);
        };
        let value = Bytes::from(value);
        let fetch = &self.fetch;
        fetch.counters.record(Event::Stored(value.len() as u64));
        fetch
            .scope
            .cache
            .entries
            .insert(fetch.key, value.clone(), ttl);
        leader.finish(value);
        fetch.report(FetchOutcome::Miss, None);
        Ok(())
    }
}

impl Drop for Computation {
    fn drop(&mut self) {
        if self.leader.is_some() {
            let detail = "computation abandoned (trap or dropped unfinished): waiters compute it";
            self.fetch.report(FetchOutcome::Abandoned, Some(detail));
        }
    }
}

/// The answer to a guest's `fetch`.
pub(crate) enum Fetched {
    /// The stored result.
    Hit(Bytes),
    /// Nobody on this replica computes it: the guest must, and finish this.
    Compute(Computation),
}

impl ActorCacheScope {
    /// `helper`'s result for `guest_key`: stored, computed meanwhile by
    /// another instance (this waits for it), or to compute. `computing` is
    /// what the asking instance is computing itself (asking for one of those
    /// would never finish).
    pub(crate) async fn fetch(
        &self,
        helper: String,
        guest_key: &[u8],
        computing: &[CacheKey],
    ) -> wasmtime::Result<Fetched> {
        if !is_helper_name(&helper) {
            wasmtime::bail!(
                "actor-cache helper name {helper:?} is not a name: use up to 64 letters, \
                 digits, `-`, `_`, `.` or `:` (it names a log field and a metric series)"
            );
        }
        let key = self.key(&helper, guest_key);
        if computing.contains(&key) {
            wasmtime::bail!(
                "actor-cache helper `{helper}` asked for its own result while computing it \
                 (a recursive helper never finishes)"
            );
        }
        let mut fetch = Fetch {
            counters: self.counters(&helper),
            scope: self.clone(),
            helper,
            key,
            started: Instant::now(),
            miss: None,
        };
        let cache = &self.cache;
        loop {
            match cache.entries.find_key(&key) {
                Found::Entry(value) => {
                    fetch.report(FetchOutcome::Hit, None);
                    return Ok(Fetched::Hit(value));
                }
                Found::Missing(reason) => {
                    fetch.miss.get_or_insert(reason);
                }
            }
            match cache.computing.join(key) {
                Role::Leader(leader) => {
                    // A leader may have finished between the lookup and
                    // the join: its result is there now.
                    if let Some(value) = cache.entries.lookup(&key) {
                        drop(leader);
                        fetch.report(FetchOutcome::Hit, None);
                        return Ok(Fetched::Hit(value));
                    }
                    return Ok(Fetched::Compute(Computation {
                        fetch,
                        leader: Some(leader),
                    }));
                }
                Role::Waiter(waiter) => {
                    fetch.counters.record(Event::Wait);
                    if let Some(value) = waiter.outcome().await {
                        let detail = "waited for another instance computing it";
                        fetch.report(FetchOutcome::Hit, Some(detail));
                        return Ok(Fetched::Hit(value));
                    }
                    // The computing instance gave up: look again, perhaps lead.
                }
            }
        }
    }
}

/// Whether a guest's helper name is fit for a log field and a metric label.
fn is_helper_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}
