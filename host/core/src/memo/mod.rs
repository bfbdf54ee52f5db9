//! The interception of one exported call: resolve the rule, compute the key,
//! look the result up, coalesce concurrent misses, run, store what ran. The
//! only place that does get → run → set for exported calls.

mod clock;
mod entries;
mod error;
mod explain;
mod report;

pub use error::{CallError, ErrorKind};
pub use explain::Explanation;
pub use report::{CallOptions, CallReport, Outcome};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use quanta::Instant;
use wasmtime::component::Val;

use crate::call_span;
use crate::codec;
use crate::component::{ActivityExport, ExportHandle};
use crate::flight::{Role, SingleFlight};
use crate::key::CacheKey;
use crate::payload::{Args, ByteKind, Results};
use crate::runner::{Returned, RunFailure, Runner};
use crate::stats::{Event, LatencyHistogram};
use crate::store::{Claim, Found, Lease, MissReason, Slot, StoreError, StoreFuture, Stores};
use clock::WallClock;
use report::{Call, Done};

/// What a single-flight leader hands its waiters.
type Shared = Result<Results, CallError>;

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

    /// The stores (for reports: invalidation and keys stay in this module).
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// Calls `handle`'s export with `args`, memoized by the export's rule.
    /// Every call is counted and logged once, failed and dropped ones too.
    pub async fn call(
        &self,
        handle: &ExportHandle,
        args: &Args<'_>,
        options: CallOptions,
    ) -> Result<CallReport, CallError> {
        let export = handle.export();
        let mut call = self.start(handle);
        match self.checked_key(&call, args) {
            Ok(key) => call.key = key,
            Err(error) => {
                call.failed(error.kind(), &error.to_string());
                return Err(error);
            }
        }
        // A lookup that the store answers at once (in memory) is read here,
        // and a hit returns without awaiting anything: the future of a call
        // stays small. Whatever waits is boxed below.
        let first = match &call.key {
            Some(key) if !options.refresh => {
                let slot = call.slot(key);
                match call.store.get(slot).now() {
                    // A probe of memory: counted as taking under a µs without
                    // reading the clock; the call's start stands for when it
                    // was read (an entry's age is in milliseconds).
                    Ok(found) => match self.found(&call, slot, found, self.answered(None)) {
                        Lookup::Hit { entry, read_at } => {
                            let hit = self.hit(*key, &entry, read_at);
                            return Ok(call.done(entry.results, hit));
                        }
                        missed => FirstLookup::Answered(missed),
                    },
                    Err(found) => FirstLookup::Waiting {
                        found,
                        started: Instant::now(),
                    },
                }
            }
            _ => FirstLookup::Skipped,
        };
        let mut unfinished = Unfinished(Some(&call));
        // The span's parent is whatever span is current here (a Temporal
        // activity's); nothing inside the call opens spans of its own, so it
        // need not be entered.
        let running = self.call_inner(&call, args, options, first);
        let result = Box::pin(async {
            match options.timeout {
                None => running.await,
                Some(limit) => tokio::time::timeout(limit, running)
                    .await
                    .unwrap_or_else(|_| {
                        Err(CallError::Deadline {
                            export: export.path.clone(),
                            limit,
                        })
                    }),
            }
        })
        .await;
        unfinished.0 = None;
        if let Err(error) = &result {
            call.failed(error.kind(), &error.to_string());
        }
        result
    }

    /// Counts and logs a call of `handle`'s export that failed with `kind`
    /// before it could run (its arguments did not parse).
    pub fn reject(&self, handle: &ExportHandle, kind: ErrorKind, message: &str) {
        self.start(handle).failed(kind, message);
    }

    /// A call of `handle`'s export starting now, in the store of its rule.
    fn start<'a>(&'a self, handle: &'a ExportHandle) -> Call<'a> {
        let export = handle.export();
        Call {
            handle,
            component: handle.component(),
            export,
            store: self.stores.for_rule(&export.rule).as_ref(),
            started: Instant::now(),
            key: None,
            miss: OnceLock::new(),
            span: call_span::start(handle.component(), export),
        }
    }

    /// The key of `call` with `args` (`None` if its rule does not cache
    /// it), once the arguments are checked against the limit and their types.
    fn checked_key(&self, call: &Call<'_>, args: &Args<'_>) -> Result<Option<CacheKey>, CallError> {
        let limit = call.component.sandbox.limits.max_argument_bytes;
        let bytes = args.size();
        if bytes > limit {
            return Err(CallError::ArgumentsTooLarge {
                export: call.export.path.clone(),
                bytes,
                limit,
            });
        }
        self.key(call.handle, args)
    }

    /// The rest of a call after its `first` lookup: awaiting that lookup if
    /// the store has not answered yet, running the function on a miss.
    async fn call_inner(
        &self,
        call: &Call<'_>,
        args: &Args<'_>,
        options: CallOptions,
        first: FirstLookup<'_>,
    ) -> Result<CallReport, CallError> {
        let Some(key) = call.key else {
            let results = self.run(call, args).await?;
            return Ok(call.done(results, Done::new(Outcome::Bypass, None)));
        };
        let slot = call.slot(&key);

        let lookup = match first {
            FirstLookup::Skipped => None,
            FirstLookup::Answered(lookup) => Some(lookup),
            FirstLookup::Waiting { found, started } => {
                let found = found.await;
                Some(self.found(call, slot, found, self.answered(Some(started))))
            }
        };
        match lookup {
            None => {
                let _ = call.miss.set(MissReason::Refresh);
            }
            Some(Lookup::Hit { entry, read_at }) => {
                let hit = self.hit(key, &entry, read_at);
                return Ok(call.done(entry.results, hit));
            }
            Some(Lookup::Miss) => {}
            Some(Lookup::StoreFailed) => {
                let (results, done) = self.run_degraded(call, key, args).await?;
                return Ok(call.done(results, done));
            }
        }

        loop {
            match self.flights.join(key) {
                Role::Waiter(waiter) => {
                    call.export.counters.record(Event::Wait);
                    let since = Instant::now();
                    let shared = waiter.outcome().await;
                    call_span::waited(&call.span, since.elapsed());
                    if let Some(shared) = shared {
                        let waited = Done::new(Outcome::Hit, Some(key))
                            .detail("waited for a concurrent identical call");
                        return Ok(call.done(shared?, waited));
                    }
                    // The leader was cancelled: try again, perhaps as leader.
                }
                Role::Leader(leader) => {
                    // Boxed, as every path that runs the guest: a hit's
                    // future stays small (it is moved on every call).
                    let led = Box::pin(self.lead(call, slot, args, options)).await;
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
        args: &Args<'_>,
        options: CallOptions,
    ) -> Result<(Results, Done), CallError> {
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
                    return self.run_and_store(call, slot, args, None).await;
                }
                Claim::Owner(lease) => {
                    if lease.entry_existed()
                        && !options.refresh
                        && let Lookup::Hit { entry, read_at } = self.lookup(call, slot).await
                    {
                        let _ = lease.finish(None).await;
                        let hit = self
                            .hit(key, &entry, read_at)
                            .detail("stored by another worker meanwhile");
                        return Ok((entry.results, hit));
                    }
                    return self.run_and_store(call, slot, args, Some(lease)).await;
                }
                Claim::Held { released, max_wait } => {
                    let since = *waiting_since.get_or_insert_with(|| {
                        call.export.counters.record(Event::Wait);
                        Instant::now()
                    });
                    let left = max_wait.saturating_sub(since.elapsed());
                    let timed_out = tokio::time::timeout(left, released).await.is_err();
                    call_span::waited(&call.span, since.elapsed());
                    if timed_out {
                        let (results, done) = self.run_and_store(call, slot, args, None).await?;
                        return Ok((results, done.detail("stopped waiting for another worker")));
                    }
                    match self.lookup(call, slot).await {
                        Lookup::Hit { entry, read_at } => {
                            let hit = self
                                .hit(key, &entry, read_at)
                                .detail("waited for another worker");
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
        args: &Args<'_>,
    ) -> Result<(Results, Done), CallError> {
        let results = self.run(call, args).await?;
        let done = Done::new(Outcome::Degraded, Some(key));
        Ok((
            results,
            done.detail("the store did not answer: ran without the cache"),
        ))
    }

    /// Runs the call and stores its result (through `lease`, releasing it,
    /// if this process holds one).
    async fn run_and_store(
        &self,
        call: &Call<'_>,
        slot: Slot<'_>,
        args: &Args<'_>,
        lease: Option<Box<dyn Lease>>,
    ) -> Result<(Results, Done), CallError> {
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
        let reason = call.miss.get().copied().unwrap_or(MissReason::New);
        let done = match stored {
            Stored::Failed => Done::new(Outcome::Degraded, key)
                .detail("the store did not take the result: not cached"),
            Stored::No(why) => Done::new(Outcome::Miss, key).because(reason).detail(why),
            Stored::Yes => {
                let reason = match self.record_code(call, args).await {
                    CodeRecord::Changed if reason == MissReason::New => MissReason::CodeChanged,
                    _ => reason,
                };
                Done::new(Outcome::Miss, key).because(reason)
            }
        };
        Ok((results, done))
    }

    /// For a `task-source` export, after its result was stored: reads which
    /// version of the code stored the last result for these arguments, and
    /// records this version if it is another. One lookup, and a write when
    /// the version changed.
    async fn record_code(&self, call: &Call<'_>, args: &Args<'_>) -> CodeRecord {
        let Some(record) = self.read_code_record(call.handle, args).await else {
            return CodeRecord::None;
        };
        if record.is_current() {
            return CodeRecord::Same;
        }
        let slot = call.slot(&record.key).code_record();
        let ttl = call.export.rule.ttl;
        let code_hash = Bytes::copy_from_slice(&record.current);
        if let Err(error) = call.store.set(slot, code_hash, ttl).await {
            tracing::debug!(%error, "code record not written");
        }
        if record.changed() {
            CodeRecord::Changed
        } else {
            CodeRecord::None
        }
    }

    /// How a hit on `entry`, read from the store at `read_at`, is reported.
    fn hit(&self, key: CacheKey, entry: &Cached, read_at: Instant) -> Done {
        let read_at_ms = self.clock.ms_at(read_at);
        let age = Duration::from_millis(read_at_ms.saturating_sub(entry.written_at_ms));
        Done::new(Outcome::Hit, Some(key)).aged(age)
    }

    async fn lookup(&self, call: &Call<'_>, slot: Slot<'_>) -> Lookup {
        let started = Instant::now();
        let found = call.store.get(slot).await;
        self.found(call, slot, found, self.answered(Some(started)))
    }

    /// Records how long a lookup asked at `started` took (`None`: answered
    /// at once, under a µs); returns when it was answered, if read.
    fn answered(&self, started: Option<Instant>) -> Option<Instant> {
        let Some(started) = started else {
            self.store_latency.get.record(0);
            return None;
        };
        let read_at = Instant::now();
        self.store_latency
            .get
            .record(read_at.duration_since(started).as_micros() as u64);
        Some(read_at)
    }

    /// What the store `found` in `slot` means for `call`; `read_at`: when
    /// it answered, if read (else the call's start stands for it).
    fn found(
        &self,
        call: &Call<'_>,
        slot: Slot<'_>,
        found: Result<Found, StoreError>,
        read_at: Option<Instant>,
    ) -> Lookup {
        let read_at = read_at.unwrap_or(call.started);
        let bytes = match found {
            Ok(Found::Entry(bytes)) => bytes,
            Ok(Found::Missing(reason)) => {
                let _ = call.miss.set(reason);
                return Lookup::Miss;
            }
            Err(error) => {
                // The store's breaker warns once per outage; a line per call
                // would drown the log while the store is down.
                tracing::debug!(%error, "cache lookup failed; running uncached");
                return Lookup::StoreFailed;
            }
        };
        match Cached::read(call.export, bytes) {
            Ok(entry) => Lookup::Hit { entry, read_at },
            Err(error) => {
                tracing::warn!(
                    component = &*call.component.name,
                    export = %call.export.path,
                    key = slot.key.short_hex().as_str(),
                    %error,
                    "unusable cache entry; treating it as a miss and overwriting it"
                );
                let _ = call.miss.set(MissReason::Unreadable);
                Lookup::Miss
            }
        }
    }

    async fn run(&self, call: &Call<'_>, args: &Args<'_>) -> Result<Results, CallError> {
        let export = call.export;
        let running = Box::pin(self.runner.call(call.handle, args));
        let returned = running.await.map_err(|RunFailure { kind, error }| {
            // The message names the cause (a trap, an instantiation
            // failure); the guest backtrace stays in the host's log.
            tracing::debug!(export = %export.path, error = format!("{error:?}"), "call failed");
            CallError::Guest {
                export: export.path.clone(),
                kind,
                message: error.root_cause().to_string(),
            }
        })?;
        match returned {
            Returned::Values(values) => Ok(Results::Values(values)),
            Returned::Bytes(kind, mut entry) => {
                // A byte list the host would not take as values is not
                // taken as bytes either: whoever asks for values gets them
                // within the same bound. (A string is one value; wasmtime
                // bounds its bytes.)
                let bytes = entry.len() - codec::BYTES_RESULT_OFFSET;
                let limit = call.component.sandbox.limits.max_byte_list_result();
                if kind == ByteKind::List && bytes > limit {
                    return Err(CallError::Guest {
                        export: export.path.clone(),
                        kind: ErrorKind::TooLarge,
                        message: format!(
                            "the result is {bytes} bytes, beyond the {limit} a byte list may take \
                             (twice max-result-bytes, and never less than wasmtime's default)"
                        ),
                    });
                }
                let now = self.clock.now_ms();
                codec::seal_bytes_entry(&mut entry, &export.signature_hash, now).map_err(
                    |error| CallError::Guest {
                        export: export.path.clone(),
                        kind: ErrorKind::TooLarge,
                        message: error.to_string(),
                    },
                )?;
                Ok(Results::Bytes(kind, Bytes::from(entry)))
            }
        }
    }

    /// The stored form of `results`, or why they are not stored.
    fn entry_for(&self, call: &Call<'_>, results: &Results) -> Result<Bytes, &'static str> {
        let export = call.export;
        let entry = match results {
            // A byte result, or one read from a store, is its entry already.
            Results::Bytes(_, entry) | Results::Stored { entry, .. } => entry.clone(),
            Results::Values(values) => {
                if !export.rule.cache_errors && matches!(values[..], [Val::Result(Err(_))]) {
                    return Err("result::err not cached");
                }
                let entry = codec::encode_entry(
                    &export.signature_hash,
                    self.clock.now_ms(),
                    values,
                    &export.result_types,
                )
                .map_err(|error| {
                    tracing::warn!(export = %export.path, %error, "result not cached");
                    "result has no encoding"
                })?;
                // Exact: the store weighs entries by their length.
                Bytes::from(entry.into_boxed_slice())
            }
        };
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
        entry: Bytes,
        lease: Option<Box<dyn Lease>>,
    ) -> Stored {
        let export = call.export;
        let bytes = entry.len() as u64;
        let ttl = export.rule.ttl;
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

/// A call that has not ended yet: if it is dropped so (its caller stopped
/// waiting), it is counted and logged as cancelled.
struct Unfinished<'a, 'c>(Option<&'a Call<'c>>);

impl Drop for Unfinished<'_, '_> {
    fn drop(&mut self) {
        if let Some(call) = self.0 {
            call.failed(
                ErrorKind::Cancelled,
                "the caller stopped waiting: the guest was stopped, nothing cached",
            );
        }
    }
}

/// A result read from the store.
struct Cached {
    results: Results,
    /// When it was stored, in milliseconds since the Unix epoch.
    written_at_ms: u64,
}

impl Cached {
    /// The result `entry` holds for `export`, checked: it stays in its entry
    /// (values are decoded from it when they are asked for).
    fn read(export: &ActivityExport, entry: Bytes) -> Result<Self, codec::DecodeError> {
        let signature = &export.signature_hash;
        if let Some(bytes) = export.byte_signature {
            let written_at_ms = codec::check_bytes_entry(&entry, signature, bytes.result)?;
            return Ok(Self {
                results: Results::Bytes(bytes.result, entry),
                written_at_ms,
            });
        }
        let shapes = export.result_shapes.as_ref().map_err(Clone::clone)?;
        let written_at_ms = codec::check_entry_as(&entry, signature, shapes)?;
        let results = if shapes.is_empty() {
            Results::Values(Vec::new())
        } else {
            Results::Stored {
                entry,
                shapes: shapes.clone(),
            }
        };
        Ok(Self {
            results,
            written_at_ms,
        })
    }
}

/// The first lookup of a call.
enum FirstLookup<'a> {
    /// None: a refresh, or a rule that does not cache.
    Skipped,
    /// Answered at once, without a hit.
    Answered(Lookup),
    /// Still to be awaited; asked at `started`.
    Waiting {
        found: StoreFuture<'a, Found>,
        started: Instant,
    },
}

enum Lookup {
    /// An entry, read from the store at `read_at`.
    Hit {
        entry: Cached,
        read_at: Instant,
    },
    Miss,
    StoreFailed,
}

/// What a `task-source` call's code record said.
enum CodeRecord {
    /// None was kept (or the export is not `task-source`).
    None,
    /// The same version of the code stored the last result.
    Same,
    /// Another version of the code stored the last result.
    Changed,
}

enum Stored {
    Yes,
    /// Kept out of the cache, and why.
    No(&'static str),
    Failed,
}
