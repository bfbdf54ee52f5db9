//! The shared store: Redis or Redis Cluster, for every worker on every machine.
//!
//! Keys (`P` is the prefix; `{…}` is a hash tag: keys with the same tag live
//! on the same cluster node):
//!
//! | key | holds |
//! |---|---|
//! | `P:e:{KEY}` | an entry: the generations it was written under, its expiry, the bytes |
//! | `P:l:{KEY}` | the lease on computing that entry (see [`lease`]) |
//! | `P:g:{COMPONENT}` | the component's generation |
//! | `P:g:{COMPONENT}#EXPORT` | the export's generation |
//! | `P:{stats}`, `P:{stats}:COMPONENT#EXPORT` | counters shared by every worker |
//!
//! An entry's value is three little-endian `u64`s (component generation,
//! export generation, expiry in Unix ms from Redis's clock or 0) and then the
//! entry bytes. It expires through `PX`, kept past its expiry for as long
//! again (at most an hour) so that a lookup can tell `expired` from `new`.
//! Invalidating an export or a component is one `INCR` (O(1) whatever the
//! number of entries), announced on `P:events` for the workers' in-memory
//! tiers; invalidating one entry overwrites it with a tombstone (every
//! header field `u64::MAX`, no bytes) kept for an hour, so the next lookup
//! says `invalidated`; either drops the index of what it hides. A lookup is
//! one round trip (`MGET`, split by slot in a cluster); a write is one
//! script, sent with one more that indexes the entry for listing (see
//! [`index`]; in a cluster that one goes first, as it returns the
//! generations: a script may only touch keys of one slot).
//!
//! The connection is made lazily (a worker starts while Redis is down) and
//! every request has its own connect and response timeouts. Failures open a
//! [`Breaker`], so a dead or hung Redis costs at most one timeout per window.

mod breaker;
mod config;
mod connection;
mod credentials;
mod events;
mod index;
mod lease;
mod scripts;
mod tiered;
mod usage;

use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

use ::redis::{AsyncCommands, Script};

use self::breaker::Breaker;
pub use self::config::RedisConfig;
use self::connection::RedisConnection;
pub use self::connection::RedisTopology;
use self::credentials::{Credentials, NodeProbe};
use self::events::{Events, Invalidation, message};
use self::index::PendingHits;
use self::lease::OwnedSlot;
use self::lease::{CLAIM_SCRIPT, RedisLease, new_token};
use self::scripts::{HITS_SCRIPT, INDEX_SCRIPT, INVALIDATE_SCRIPT, LIST_SCRIPT, WRITE_SCRIPT};
pub use self::tiered::{DEFAULT_L1_TTL, TieredStore};
use crate::key::CacheKey;
use crate::stats::{ExportStats, StatsRow};
use crate::store::lease::Claim;
use crate::store::{
    CacheStore, EntryPage, EntryQuery, Found, MissReason, Slot, SlotKind, StoreError,
    StoreErrorKind, StoreFuture, StoreUsage,
};

/// Bytes before the entry in a stored value.
const HEADER_BYTES: usize = 24;

/// What invalidating one entry writes in its place.
const TOMBSTONE: [u8; HEADER_BYTES] = [0xff; HEADER_BYTES];

/// How long a tombstone stays: 1 h.
const TOMBSTONE_TTL: Duration = Duration::from_secs(3600);

/// A [`CacheStore`] in Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: RedisConnection,
    prefix: Arc<str>,
    breaker: Arc<Breaker>,
    write_script: Arc<Script>,
    claim_script: Arc<Script>,
    invalidate_script: Arc<Script>,
    index_script: Arc<Script>,
    list_script: Arc<Script>,
    hits_script: Arc<Script>,
    hits: Arc<PendingHits>,
    events: Arc<Events>,
    lease: Duration,
    lease_wait: Duration,
    /// The first node listed, asked directly when a cluster fails.
    first_node: Arc<NodeProbe>,
}

/// An entry read from Redis, and when Redis will expire it.
pub struct RedisEntry {
    /// The entry bytes.
    pub bytes: Bytes,
    /// Unix milliseconds (Redis's clock) when it expires; `None`: never.
    pub expires_at_ms: Option<u64>,
}

impl RedisStore {
    /// A store for `config`. Does not connect yet: the first request does.
    /// Call it within a tokio runtime (the connection's driver is a task).
    pub fn new(config: &RedisConfig) -> Result<Self, StoreError> {
        let topology = config.topology()?;
        let credentials = Credentials::read(config, &topology)?;
        if credentials.insecure() {
            tracing::warn!(
                store = %config.location(),
                "Redis's TLS certificate is not checked (insecure): anyone between this worker \
                 and Redis can read and change cached results; for testing only"
            );
        }
        let connection = RedisConnection::open(
            &topology,
            &credentials,
            config.connect_timeout,
            config.response_timeout,
        )
        .map_err(|e| {
            StoreError::new(
                "redis",
                StoreErrorKind::Config,
                format!("invalid Redis settings: {e}"),
            )
        })?;
        let first_node = NodeProbe {
            url: topology.node_urls().swap_remove(0),
            credentials: credentials.clone(),
            timeout: config.connect_timeout + config.response_timeout,
        };
        let events = Events::new(
            format!("{}:events", config.prefix),
            topology.node_urls(),
            credentials,
            config.connect_timeout,
        );
        Ok(Self {
            connection,
            prefix: Arc::from(config.prefix.as_str()),
            breaker: Arc::new(Breaker::new(
                "redis",
                config.location(),
                config.breaker_window,
            )),
            write_script: Arc::new(Script::new(WRITE_SCRIPT)),
            claim_script: Arc::new(Script::new(CLAIM_SCRIPT)),
            invalidate_script: Arc::new(Script::new(INVALIDATE_SCRIPT)),
            index_script: Arc::new(Script::new(INDEX_SCRIPT)),
            list_script: Arc::new(Script::new(LIST_SCRIPT)),
            hits_script: Arc::new(Script::new(HITS_SCRIPT)),
            hits: Arc::default(),
            events: Arc::new(events),
            lease: config.lease.max(Duration::from_millis(1)),
            lease_wait: config.lease_wait,
            first_node: Arc::new(first_node),
        })
    }

    /// A handle on the connection (cheap).
    pub(super) fn connection(&self) -> RedisConnection {
        self.connection.clone()
    }

    /// Counts a hit on the entry in `slot` (added to its index at the next
    /// flush).
    pub(super) fn count_hit(&self, slot: Slot<'_>) {
        if slot.kind == SlotKind::Result {
            self.hits.count(slot);
        }
    }

    /// The messages between the workers sharing this Redis.
    pub(super) fn events(&self) -> &Events {
        &self.events
    }

    pub(super) fn entry_key(&self, key: &CacheKey) -> String {
        format!("{}:e:{{{key}}}", self.prefix)
    }

    pub(super) fn lease_key(&self, key: &CacheKey) -> String {
        format!("{}:l:{{{key}}}", self.prefix)
    }

    pub(super) fn component_generation_key(&self, component: &str) -> String {
        format!("{}:g:{{{component}}}", self.prefix)
    }

    pub(super) fn export_generation_key(&self, component: &str, export: &str) -> String {
        format!("{}:g:{{{component}}}#{export}", self.prefix)
    }

    fn stats_index_key(&self) -> String {
        format!("{}:{{stats}}", self.prefix)
    }

    fn stats_key(&self, member: &str) -> String {
        format!("{}:{{stats}}:{member}", self.prefix)
    }

    /// Runs `request` unless the breaker is open, and tells the breaker how
    /// it went.
    pub(super) async fn guarded<T>(
        &self,
        request: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        if !self.breaker.allow() {
            return Err(StoreError::new(
                "redis",
                StoreErrorKind::Unavailable,
                "unavailable (circuit open)",
            ));
        }
        match request.await {
            Ok(value) => {
                self.breaker.succeeded();
                Ok(value)
            }
            Err(e) => {
                self.breaker.failed(&e);
                Err(error(&e))
            }
        }
    }

    /// The entry in `slot` with its expiry, if present under the current
    /// generations and not expired; else why not.
    pub async fn get_entry(
        &self,
        slot: Slot<'_>,
    ) -> Result<Result<RedisEntry, MissReason>, StoreError> {
        let keys = [
            self.component_generation_key(slot.component),
            self.export_generation_key(slot.component, slot.export),
            self.entry_key(slot.key),
        ];
        let mut connection = self.connection.clone();
        let values: Vec<Option<Vec<u8>>> = self.guarded(connection.mget(&keys)).await?;
        let mut values = values.into_iter();
        let (component, export, entry) = (values.next(), values.next(), values.next());
        let generations = (
            generation(component.flatten()),
            generation(export.flatten()),
        );
        Ok(current_entry(entry.flatten(), generations, unix_now_ms))
    }

    /// Writes `entry` (bytes and TTL) into `slot` under the current
    /// generations, if given, and releases the lease held with `token`, if
    /// given, announcing that the key is done.
    pub(super) async fn write(
        &self,
        slot: Slot<'_>,
        entry: Option<(Bytes, Option<Duration>)>,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.write_script.prepare_invoke();
        invocation
            .key(self.entry_key(slot.key))
            .key(self.lease_key(slot.key))
            .arg(token.unwrap_or(""))
            .arg(self.events.channel())
            .arg(message::done(slot.key));
        let Some((bytes, ttl)) = &entry else {
            invocation.arg(-1i64).arg("");
            self.guarded(invocation.invoke_async::<i64>(&mut connection))
                .await?;
            return Ok(());
        };
        let ttl_ms = ttl.map_or(0, |ttl| ttl.as_millis().max(1) as u64);
        invocation.arg(ttl_ms).arg(&**bytes);
        let listed = slot.kind == SlotKind::Result;
        if self.connection.is_cluster() {
            // The generations live in another slot: read them first (the
            // index script, on that slot, returns them).
            let (component, export) = if listed {
                self.index(slot, *ttl).await?
            } else {
                let keys = [
                    self.component_generation_key(slot.component),
                    self.export_generation_key(slot.component, slot.export),
                ];
                let values: Vec<Option<Vec<u8>>> = self.guarded(connection.mget(&keys)).await?;
                let mut values = values.into_iter();
                (
                    generation(values.next().flatten()),
                    generation(values.next().flatten()),
                )
            };
            invocation.arg(component).arg(export);
            self.guarded(invocation.invoke_async::<i64>(&mut connection))
                .await?;
            return Ok(());
        }
        invocation
            .key(self.component_generation_key(slot.component))
            .key(self.export_generation_key(slot.component, slot.export));
        let write = self.guarded(invocation.invoke_async::<i64>(&mut connection));
        if listed {
            // Both sent at once on the multiplexed connection: one round trip.
            tokio::try_join!(write, self.index(slot, *ttl))?;
        } else {
            write.await?;
        }
        Ok(())
    }

    /// Overwrites the entry under `key` with a tombstone and announces it;
    /// returns whether an entry was there.
    async fn tombstone(&self, key: &CacheKey) -> Result<bool, StoreError> {
        let mut invocation = self.invalidate_script.prepare_invoke();
        invocation
            .key(self.entry_key(key))
            .arg("tombstone")
            .arg(self.events.channel())
            .arg(self.events.announcement(&Invalidation::Entry(*key)))
            .arg(&TOMBSTONE[..])
            .arg(TOMBSTONE_TTL.as_millis() as u64);
        let mut connection = self.connection.clone();
        let replaced: i64 = self
            .guarded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(replaced == 1)
    }

    /// Bumps the generation of `export` of `component` (of the component if
    /// `None`), drops its index and announces it, in one script.
    async fn bump(&self, component: &str, export: Option<&str>) -> Result<(), StoreError> {
        let (generation_key, invalidation) = match export {
            Some(export) => (
                self.export_generation_key(component, export),
                Invalidation::Export {
                    component: component.to_owned(),
                    export: export.to_owned(),
                },
            ),
            None => (
                self.component_generation_key(component),
                Invalidation::Component(component.to_owned()),
            ),
        };
        let (exports_key, exports, index_keys) = self.index_to_drop(component, export).await?;
        let mut invocation = self.invalidate_script.prepare_invoke();
        invocation
            .key(generation_key)
            .key(exports_key)
            .arg("incr")
            .arg(self.events.channel())
            .arg(self.events.announcement(&invalidation))
            .arg("")
            .arg(0);
        for key in index_keys {
            invocation.key(key);
        }
        for export in exports {
            invocation.arg(export);
        }
        let mut connection = self.connection.clone();
        self.guarded(invocation.invoke_async::<i64>(&mut connection))
            .await?;
        Ok(())
    }
}

/// A Redis error as a [`StoreError`] of the kind it is.
fn error(e: &::redis::RedisError) -> StoreError {
    use ::redis::ErrorKind;
    let kind = if e.is_timeout() {
        StoreErrorKind::Timeout
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        StoreErrorKind::Unavailable
    } else {
        match e.kind() {
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => StoreErrorKind::Corrupt,
            ErrorKind::InvalidClientConfig => StoreErrorKind::Config,
            ErrorKind::ClusterConnectionNotFound => StoreErrorKind::Unavailable,
            _ => StoreErrorKind::Refused,
        }
    };
    StoreError::new("redis", kind, e.to_string())
}

/// The entry of a stored value if it was written under `generations` and
/// has not expired by the clock `now_ms` (Unix ms); else why not.
fn current_entry(
    value: Option<Vec<u8>>,
    generations: (u64, u64),
    now_ms: impl FnOnce() -> u64,
) -> Result<RedisEntry, MissReason> {
    let value = value.ok_or(MissReason::New)?;
    // Shorter than a header: not written by this host (or truncated).
    let header = value.get(..HEADER_BYTES).ok_or(MissReason::Unreadable)?;
    let header = Header::read(header)
        .filter(|header| header.generations == generations)
        .ok_or(MissReason::Invalidated)?;
    if header.expires_at_ms.is_some_and(|at| at <= now_ms()) {
        return Err(MissReason::Expired);
    }
    Ok(RedisEntry {
        // The entry shares the reply's memory.
        bytes: Bytes::from(value).slice(HEADER_BYTES..),
        expires_at_ms: header.expires_at_ms,
    })
}

/// The header of a stored value: what it was written under, and when it
/// expires.
struct Header {
    generations: (u64, u64),
    expires_at_ms: Option<u64>,
}

impl Header {
    /// The header in `bytes` (the value's first [`HEADER_BYTES`]), unless
    /// it is a tombstone's or too short.
    fn read(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; HEADER_BYTES] = bytes.try_into().ok()?;
        if *bytes == TOMBSTONE {
            return None;
        }
        let field =
            |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(Self {
            generations: (field(0), field(1)),
            expires_at_ms: Some(field(2)).filter(|&at| at != 0),
        })
    }
}

/// This machine's clock, in Unix ms.
pub(super) fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

fn generation(value: Option<Vec<u8>>) -> u64 {
    value
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

impl CacheStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn is_healthy(&self) -> bool {
        self.breaker.is_closed()
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        StoreFuture::new(async move {
            let mut connection = self.connection();
            let ping = async {
                let answer = redis::cmd("PING").query_async::<()>(&mut connection).await;
                match answer {
                    // A cluster says only that no node answered: ask one
                    // node why (a refused certificate, a wrong password).
                    Err(error) if self.connection.is_cluster() => {
                        Err(self.first_node.why_not(error).await)
                    }
                    answer => answer,
                }
            };
            self.guarded(ping).await
        })
    }

    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Found> {
        StoreFuture::new(async move {
            Ok(match self.get_entry(slot).await? {
                Ok(entry) => {
                    self.count_hit(slot);
                    Found::Entry(entry.bytes)
                }
                Err(reason) => Found::Missing(reason),
            })
        })
    }

    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        StoreFuture::new(self.write(slot, Some((value, ttl)), None))
    }

    fn remove<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, bool> {
        StoreFuture::new(self.tombstone(key))
    }

    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()> {
        StoreFuture::new(self.bump(component, Some(export)))
    }

    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()> {
        StoreFuture::new(self.bump(component, None))
    }

    fn entries<'a>(&'a self, query: EntryQuery<'a>) -> StoreFuture<'a, EntryPage> {
        StoreFuture::new(self.list(query))
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        StoreFuture::new(self.flush_hits())
    }

    fn usage(&self) -> StoreFuture<'_, Option<StoreUsage>> {
        StoreFuture::new(async { self.server_usage().await.map(Some) })
    }

    fn claim<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Claim> {
        StoreFuture::new(async move {
            self.events.start();
            // Registered before the claim: a "done" sent right after it is
            // not missed.
            let done = self.events.watch_done(*slot.key);
            let token = new_token();
            let mut invocation = self.claim_script.prepare_invoke();
            invocation
                .key(self.lease_key(slot.key))
                .key(self.entry_key(slot.key))
                .arg(&token)
                .arg(self.lease.as_millis().max(1) as u64);
            let mut connection = self.connection.clone();
            let (taken, detail): (i64, i64) = self
                .guarded(invocation.invoke_async(&mut connection))
                .await?;
            if taken == 1 {
                let lease = RedisLease::start(
                    self.clone(),
                    OwnedSlot::new(slot),
                    token,
                    self.lease,
                    detail == 1,
                );
                return Ok(Claim::Owner(Box::new(lease)));
            }
            // Wake up when the holder is done, or just after its lease lapses
            // (it died, or renewed it: then claim again and wait again).
            let lapse = Duration::from_millis(detail.max(0) as u64 + 2);
            Ok(Claim::Held {
                released: Box::pin(done.done_or(lapse)),
                max_wait: self.lease_wait,
            })
        })
    }

    fn add_stats<'a>(&'a self, deltas: &'a [StatsRow]) -> StoreFuture<'a, ()> {
        StoreFuture::new(async move {
            let mut pipeline = redis::pipe();
            for (component, export, delta) in deltas {
                let member = format!("{component}#{export}");
                pipeline.sadd(self.stats_index_key(), &member).ignore();
                for (field, value) in delta.fields() {
                    if value > 0 {
                        pipeline
                            .hincr(self.stats_key(&member), field, value)
                            .ignore();
                    }
                }
            }
            let mut connection = self.connection.clone();
            self.guarded(pipeline.query_async::<()>(&mut connection))
                .await
        })
    }

    fn stats(&self) -> StoreFuture<'_, Option<Vec<StatsRow>>> {
        StoreFuture::new(async move {
            let mut connection = self.connection.clone();
            let mut members: Vec<String> = self
                .guarded(connection.smembers(self.stats_index_key()))
                .await?;
            members.sort();
            let mut pipeline = redis::pipe();
            for member in &members {
                pipeline.hgetall(self.stats_key(member));
            }
            let hashes: Vec<Vec<(String, u64)>> =
                self.guarded(pipeline.query_async(&mut connection)).await?;
            let rows = members
                .into_iter()
                .zip(hashes)
                .filter_map(|(member, fields)| {
                    let (component, export) = member.split_once('#')?;
                    let mut stats = ExportStats::default();
                    for (field, value) in fields {
                        stats.set(&field, value);
                    }
                    Some((component.to_owned(), export.to_owned(), stats))
                })
                .collect();
            Ok(Some(rows))
        })
    }
}
