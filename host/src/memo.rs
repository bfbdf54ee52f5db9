//! The interception of one exported call: resolve the rule, compute the key,
//! look the result up, coalesce concurrent misses, run, store what ran. The
//! only place that does get → run → set, and the only place that logs call
//! outcomes.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use quanta::Instant;

use wasmtime::component::Val;

use crate::codec::{self, EncodeError};
use crate::component::{ActivityComponent, ActivityExport};
use crate::flight::{Role, SingleFlight};
use crate::key::{CacheKey, KeyScope, cache_key};
use crate::policy::CachePolicy;
use crate::runner::Runner;
use crate::stats::{Event, LatencyHistogram};
use crate::store::{CacheStore, Claim, Lease, Slot, Stores};

/// How a call was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The function did not run: the result came from the store, or from a
    /// concurrent identical call that this call waited for.
    Hit,
    /// Not in the cache (or a refresh): the function ran and its result was
    /// stored (unless the rule keeps it out, such as a `result::err`).
    Miss,
    /// The rule says `no-cache`: the function ran, nothing was looked up or stored.
    Bypass,
    /// The store failed: the function ran uncached.
    Degraded,
}

impl Outcome {
    /// The outcome as written in logs and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
            Self::Degraded => "degraded",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-call options.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallOptions {
    /// Run the function even if a result is cached, and overwrite the entry
    /// (Prefect's `refresh_cache`, Flyte's `overwrite_cache`).
    pub refresh: bool,
}

/// The result of a call, and how it was served.
#[derive(Clone, Debug)]
pub struct CallReport {
    /// The function's results (zero or one value).
    pub results: Vec<Val>,
    /// Hit, miss, bypass or degraded.
    pub outcome: Outcome,
    /// The cache key, unless the call bypassed the cache.
    pub key: Option<CacheKey>,
    /// On a hit from the store: how long ago the result was stored.
    pub age: Option<Duration>,
}

/// Why a call failed. Nothing is cached for a failed call.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// The arguments do not match the function's parameters.
    #[error("invalid arguments for `{export}`: {source}")]
    Arguments {
        /// The export.
        export: String,
        /// What does not match.
        source: EncodeError,
    },
    /// The arguments are larger than the component's `max-argument-bytes`.
    #[error("the arguments of `{export}` are {bytes} bytes, beyond max-argument-bytes ({limit})")]
    ArgumentsTooLarge {
        /// The export.
        export: String,
        /// Their size ([`crate::limits::argument_bytes`]).
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The guest trapped or failed to instantiate.
    #[error("`{export}` failed: {message}")]
    Guest {
        /// The export.
        export: String,
        /// The error chain, as text.
        message: String,
    },
}

/// What a single-flight leader hands its waiters.
type Shared = Result<Vec<Val>, CallError>;

/// Memoizes calls: the runner that executes them, the store that keeps their
/// results, and the calls in flight.
pub struct Memoizer {
    runner: Runner,
    stores: Stores,
    flights: Arc<SingleFlight<Shared>>,
    /// Latency of store lookups and writes.
    store_latency: StoreLatency,
    clock: WallClock,
}

/// Latency histograms of the store's lookups and writes.
#[derive(Debug, Default)]
pub struct StoreLatency {
    /// `get`s.
    pub get: LatencyHistogram,
    /// `set`s.
    pub set: LatencyHistogram,
}

impl Memoizer {
    /// A memoizer running calls with `runner` and caching in `stores`.
    pub fn new(runner: Runner, stores: Stores) -> Self {
        Self {
            runner,
            stores,
            flights: Arc::default(),
            store_latency: StoreLatency::default(),
            clock: WallClock::new(),
        }
    }

    /// The runner, for loading components.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Latency of the store's lookups and writes.
    pub fn store_latency(&self) -> &StoreLatency {
        &self.store_latency
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// Calls `export` of `component` with `args`, memoized by the export's rule.
    pub async fn call(
        &self,
        component: &ActivityComponent,
        export: &ActivityExport,
        args: &[Val],
        options: CallOptions,
    ) -> Result<CallReport, CallError> {
        let call = Call {
            component,
            export,
            store: self.stores.for_rule(&export.rule).as_ref(),
            started: Instant::now(),
        };
        let result = self.call_inner(&call, args, options).await;
        if result.is_err() {
            export.counters.record(Event::Error);
            export
                .counters
                .record_latency(call.started.elapsed().as_micros() as u64);
        }
        result
    }

    async fn call_inner(
        &self,
        call: &Call<'_>,
        args: &[Val],
        options: CallOptions,
    ) -> Result<CallReport, CallError> {
        let limit = call.component.sandbox.limits.max_argument_bytes;
        let bytes = crate::limits::argument_bytes(args);
        if bytes > limit {
            return Err(CallError::ArgumentsTooLarge {
                export: call.export.path.clone(),
                bytes,
                limit,
            });
        }
        let Some(key) = self.key(call.component, call.export, args)? else {
            let results = self.run(call, args).await?;
            return Ok(call.done(results, Done::new(Outcome::Bypass, None)));
        };
        let slot = call.slot(&key);

        if !options.refresh {
            match self.lookup(call, slot).await {
                Lookup::Hit(entry) => {
                    let hit = self.hit(key, &entry);
                    return Ok(call.done(entry.results, hit));
                }
                Lookup::Miss => {}
                Lookup::StoreFailed => {
                    let (results, done) = self.run_degraded(call, key, args).await?;
                    return Ok(call.done(results, done));
                }
            }
        }

        loop {
            match self.flights.join(key) {
                Role::Waiter(waiter) => {
                    call.export.counters.record(Event::Wait);
                    if let Some(shared) = waiter.outcome().await {
                        let waited = Done::new(Outcome::Hit, Some(key))
                            .detail("waited for a concurrent identical call");
                        return Ok(call.done(shared?, waited));
                    }
                    // The leader was cancelled: try again, perhaps as leader.
                }
                Role::Leader(leader) => {
                    let led = self.lead(call, slot, args, options).await;
                    leader.finish(
                        led.as_ref()
                            .map(|(results, _)| results.clone())
                            .map_err(Clone::clone),
                    );
                    let (results, done) = led?;
                    return Ok(call.done(results, done));
                }
            }
        }
    }

    /// Runs a missed call once for every process sharing the store: as the
    /// holder of the store's lease on the key, or by waiting for the holder
    /// and reading what it stored.
    async fn lead(
        &self,
        call: &Call<'_>,
        slot: Slot<'_>,
        args: &[Val],
        options: CallOptions,
    ) -> Result<(Vec<Val>, Done), CallError> {
        let key = *slot.key;
        let mut waiting_since = None;
        loop {
            let claim = match call.store.claim(slot).await {
                Ok(claim) => claim,
                Err(error) => {
                    tracing::debug!(%error, "lease claim failed; running uncached");
                    return self.run_degraded(call, key, args).await;
                }
            };
            match claim {
                Claim::Unshared => {
                    return self.run_and_store(call, slot, args, None, options).await;
                }
                Claim::Owner(lease) => {
                    if lease.entry_existed()
                        && !options.refresh
                        && let Lookup::Hit(entry) = self.lookup(call, slot).await
                    {
                        let _ = lease.finish(None).await;
                        let hit = self
                            .hit(key, &entry)
                            .detail("stored by another worker meanwhile");
                        return Ok((entry.results, hit));
                    }
                    return self
                        .run_and_store(call, slot, args, Some(lease), options)
                        .await;
                }
                Claim::Held { released, max_wait } => {
                    let since = *waiting_since.get_or_insert_with(|| {
                        call.export.counters.record(Event::Wait);
                        Instant::now()
                    });
                    let left = max_wait.saturating_sub(since.elapsed());
                    if tokio::time::timeout(left, released).await.is_err() {
                        let (results, done) =
                            self.run_and_store(call, slot, args, None, options).await?;
                        return Ok((results, done.detail("stopped waiting for another worker")));
                    }
                    match self.lookup(call, slot).await {
                        Lookup::Hit(entry) => {
                            let hit = self.hit(key, &entry).detail("waited for another worker");
                            return Ok((entry.results, hit));
                        }
                        // The holder stored nothing (an error) or died: claim again.
                        Lookup::Miss => {}
                        Lookup::StoreFailed => return self.run_degraded(call, key, args).await,
                    }
                }
            }
        }
    }

    /// Runs the call without the cache, which failed: outcome `degraded`.
    async fn run_degraded(
        &self,
        call: &Call<'_>,
        key: CacheKey,
        args: &[Val],
    ) -> Result<(Vec<Val>, Done), CallError> {
        let results = self.run(call, args).await?;
        Ok((results, Done::new(Outcome::Degraded, Some(key))))
    }

    /// Runs the call and stores its result (through `lease`, releasing it,
    /// if this process holds one).
    async fn run_and_store(
        &self,
        call: &Call<'_>,
        slot: Slot<'_>,
        args: &[Val],
        lease: Option<Box<dyn Lease>>,
        options: CallOptions,
    ) -> Result<(Vec<Val>, Done), CallError> {
        let key = Some(*slot.key);
        let results = match self.run(call, args).await {
            Ok(results) => results,
            Err(error) => {
                if let Some(lease) = lease {
                    let _ = lease.finish(None).await;
                }
                return Err(error);
            }
        };
        let stored = match (self.entry_for(call, &results), lease) {
            (Ok(entry), lease) => self.store_entry(call, slot, entry, lease).await,
            (Err(why), Some(lease)) => {
                let _ = lease.finish(None).await;
                Stored::No(why)
            }
            (Err(why), None) => Stored::No(why),
        };
        let done = match stored {
            Stored::Failed => Done::new(Outcome::Degraded, key),
            Stored::No(why) => Done::new(Outcome::Miss, key).detail(why),
            Stored::Yes if options.refresh => Done::new(Outcome::Miss, key).detail("refresh"),
            Stored::Yes => Done::new(Outcome::Miss, key),
        };
        Ok((results, done))
    }

    /// How a hit on `entry` is reported.
    fn hit(&self, key: CacheKey, entry: &codec::DecodedEntry) -> Done {
        let age = Duration::from_millis(self.clock.now_ms().saturating_sub(entry.written_at_ms));
        Done::new(Outcome::Hit, Some(key)).aged(age)
    }

    /// The key of a call of `export` with `args`, or `None` if its rule
    /// does not cache it. Every argument is checked against its type, even
    /// those the rule leaves out of the key.
    pub fn key(
        &self,
        component: &ActivityComponent,
        export: &ActivityExport,
        args: &[Val],
    ) -> Result<Option<CacheKey>, CallError> {
        let code_hash = match export.rule.policy {
            CachePolicy::NoCache => return Ok(None),
            CachePolicy::Inputs => None,
            CachePolicy::TaskSource => Some(&component.code_hash),
        };
        let mut encoded_args = Vec::with_capacity(64);
        codec::encode_key_args(
            args,
            &export.param_types,
            &export.key_params,
            &mut encoded_args,
        )
        .map_err(|source| CallError::Arguments {
            export: export.path.clone(),
            source,
        })?;
        let scope = KeyScope {
            component: &component.name,
            export: &export.path,
            signature_hash: &export.signature_hash,
            code_hash,
        };
        Ok(Some(cache_key(&scope, &encoded_args)))
    }

    async fn lookup(&self, call: &Call<'_>, slot: Slot<'_>) -> Lookup {
        let started = Instant::now();
        let found = call.store.get(slot).await;
        self.store_latency
            .get
            .record(started.elapsed().as_micros() as u64);
        let bytes = match found {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Lookup::Miss,
            Err(error) => {
                // The store's breaker warns once per outage; a line per call
                // would drown the log while the store is down.
                tracing::debug!(%error, "cache lookup failed; running uncached");
                return Lookup::StoreFailed;
            }
        };
        match codec::decode_entry(
            &bytes,
            &call.export.signature_hash,
            &call.export.result_types,
        ) {
            Ok(results) => Lookup::Hit(results),
            Err(error) => {
                tracing::warn!(
                    component = &*call.component.name,
                    export = %call.export.path,
                    key = %slot.key.short(),
                    %error,
                    "unusable cache entry; treating it as a miss and overwriting it"
                );
                Lookup::Miss
            }
        }
    }

    async fn run(&self, call: &Call<'_>, args: &[Val]) -> Result<Vec<Val>, CallError> {
        let (component, export) = (call.component, call.export);
        self.runner
            .call(
                &component.pre,
                &component.actor_cache,
                &component.sandbox,
                component.pool.as_ref(),
                &export.index,
                args,
                export.result_types.len(),
            )
            .await
            .map_err(|error| {
                // The message names the cause (a trap, an instantiation
                // failure); the guest backtrace stays in the host's log.
                tracing::debug!(export = %export.path, error = format!("{error:?}"), "call failed");
                CallError::Guest {
                    export: export.path.clone(),
                    message: error.root_cause().to_string(),
                }
            })
    }

    /// The stored form of `results`, or why they are not stored.
    fn entry_for(&self, call: &Call<'_>, results: &[Val]) -> Result<Vec<u8>, &'static str> {
        let export = call.export;
        if !export.rule.cache_errors && matches!(results, [Val::Result(Err(_))]) {
            return Err("result::err not cached");
        }
        let entry = codec::encode_entry(
            &export.signature_hash,
            self.clock.now_ms(),
            results,
            &export.result_types,
        )
        .map_err(|error| {
            tracing::warn!(export = %export.path, %error, "result not cached");
            "result has no encoding"
        })?;
        if entry.len() > call.component.sandbox.limits.max_result_bytes {
            return Err("result larger than max-result-bytes: returned, not cached");
        }
        Ok(entry)
    }

    /// Writes `entry` into `slot`, through `lease` if this process holds one.
    async fn store_entry(
        &self,
        call: &Call<'_>,
        slot: Slot<'_>,
        entry: Vec<u8>,
        lease: Option<Box<dyn Lease>>,
    ) -> Stored {
        let export = call.export;
        let bytes = entry.len() as u64;
        let (entry, ttl) = (Arc::from(entry), export.rule.ttl);
        let started = Instant::now();
        let written = match lease {
            Some(lease) => lease.finish(Some((entry, ttl))).await,
            None => call.store.set(slot, entry, ttl).await,
        };
        self.store_latency
            .set
            .record(started.elapsed().as_micros() as u64);
        match written {
            Ok(()) => {
                export.counters.record(Event::Stored(bytes));
                Stored::Yes
            }
            Err(error) => {
                tracing::debug!(%error, "cache write failed");
                Stored::Failed
            }
        }
    }
}

enum Lookup {
    Hit(codec::DecodedEntry),
    Miss,
    StoreFailed,
}

enum Stored {
    Yes,
    /// Kept out of the cache, and why.
    No(&'static str),
    Failed,
}

/// One call in progress: what it calls and when it started.
struct Call<'a> {
    component: &'a ActivityComponent,
    export: &'a ActivityExport,
    store: &'a dyn CacheStore,
    started: Instant,
}

/// How a call ended, for its report and its log line.
struct Done {
    outcome: Outcome,
    key: Option<CacheKey>,
    age: Option<Duration>,
    detail: Option<&'static str>,
}

impl Done {
    fn new(outcome: Outcome, key: Option<CacheKey>) -> Self {
        Self {
            outcome,
            key,
            age: None,
            detail: None,
        }
    }

    fn aged(self, age: Duration) -> Self {
        Self {
            age: Some(age),
            ..self
        }
    }

    fn detail(self, detail: &'static str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }
}

impl Call<'_> {
    fn slot<'k>(&'k self, key: &'k CacheKey) -> Slot<'k> {
        Slot {
            key,
            component: &self.component.name,
            export: &self.export.path,
        }
    }

    /// Counts and logs the call; returns its report.
    fn done(&self, results: Vec<Val>, done: Done) -> CallReport {
        let Done {
            outcome,
            key,
            age,
            detail,
        } = done;
        self.export.counters.record(match outcome {
            Outcome::Hit => Event::Hit,
            Outcome::Miss => Event::Miss,
            Outcome::Bypass => Event::Bypass,
            Outcome::Degraded => Event::Degraded,
        });
        let elapsed_us = self.started.elapsed().as_micros() as u64;
        self.export.counters.record_latency(elapsed_us);
        tracing::info!(
            target: "activity_host::call",
            outcome = outcome.as_str(),
            component = &*self.component.name,
            export = %self.export.path,
            key = key.as_ref().map(CacheKey::short),
            policy = self.export.rule.policy.as_str(),
            store = self.store.name(),
            elapsed_us,
            age_ms = age.map(|age| age.as_millis() as u64),
            detail,
            "call"
        );
        CallReport {
            results,
            outcome,
            key,
            age,
        }
    }
}

/// Wall-clock milliseconds for entry write times and ages, read from the
/// cheap monotonic clock: the wall clock when the memoizer started plus the
/// time elapsed since. (An entry's age is informational; stepping the
/// system clock while a worker runs shifts it by that step.)
struct WallClock {
    start_ms: u64,
    start: Instant,
}

impl WallClock {
    fn new() -> Self {
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
        Self {
            start_ms: since_epoch.map_or(0, |d| d.as_millis() as u64),
            start: Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64 {
        self.start_ms + self.start.elapsed().as_millis() as u64
    }
}
