//! The shared store: Redis, for every worker on every machine.
//!
//! Entries live at `PREFIX:e:<key hex>` with a millisecond TTL (`PX`); their
//! value is the component and export generations they were written under
//! (two little-endian `u64`) followed by the entry bytes. Generations live at
//! `PREFIX:g:<component>` and `PREFIX:g:<component>#<export>`; invalidating
//! an export or a component is one `INCR`. A lookup is one round trip
//! (`MGET` of both generations and the entry); a write is one round trip
//! (a script that reads the generations and sets the entry).
//!
//! Counters shared by every worker live in one hash per export,
//! `PREFIX:stats:<component>#<export>`, listed in the set `PREFIX:stats`;
//! workers add what they counted with `HINCRBY`.
//!
//! The connection is made lazily (a worker starts while Redis is down) and
//! every request has its own connect and response timeouts. Failures open a
//! [`Breaker`], so a dead or hung Redis costs at most one timeout per window.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::breaker::Breaker;
use super::{CacheStore, Slot, StoreError, StoreFuture};
use crate::stats::{ExportStats, StatsRow};

/// Connection settings of a [`RedisStore`].
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS).
    pub url: String,
    /// Prefix of every key this store writes (default `activity-host`).
    pub prefix: String,
    /// Time allowed to connect (default 250 ms).
    pub connect_timeout: Duration,
    /// Time allowed for each response (default 250 ms).
    pub response_timeout: Duration,
    /// How long the breaker stays open after a failure (default 1 s).
    pub breaker_window: Duration,
}

impl RedisConfig {
    /// Settings for `url` with the documented defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "activity-host".to_owned(),
            connect_timeout: Duration::from_millis(250),
            response_timeout: Duration::from_millis(250),
            breaker_window: Duration::from_secs(1),
        }
    }
}

/// Sets an entry under the current generations: KEYS = component generation,
/// export generation, entry; ARGV = entry bytes, TTL in ms (0: none).
const SET_SCRIPT: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local e = tonumber(redis.call('GET', KEYS[2]) or '0')
local value = struct.pack('<i8<i8', c, e) .. ARGV[1]
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[3], value, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[3], value)
end
return 1
";

/// A [`CacheStore`] in Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    breaker: Arc<Breaker>,
    set_script: Arc<Script>,
}

impl RedisStore {
    /// A store for `config`. Does not connect yet: the first request does.
    pub fn new(config: &RedisConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| error(format!("invalid URL: {e}")))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| error(format!("cannot create the connection: {e}")))?;
        Ok(Self {
            connection,
            prefix: Arc::from(config.prefix.as_str()),
            breaker: Arc::new(Breaker::new("redis", config.breaker_window)),
            set_script: Arc::new(Script::new(SET_SCRIPT)),
        })
    }

    fn entry_key(&self, slot: &Slot<'_>) -> String {
        format!("{}:e:{}", self.prefix, slot.key)
    }

    fn component_generation_key(&self, component: &str) -> String {
        format!("{}:g:{component}", self.prefix)
    }

    fn export_generation_key(&self, component: &str, export: &str) -> String {
        format!("{}:g:{component}#{export}", self.prefix)
    }

    fn stats_index_key(&self) -> String {
        format!("{}:stats", self.prefix)
    }

    fn stats_key(&self, member: &str) -> String {
        format!("{}:stats:{member}", self.prefix)
    }

    /// Runs `request` unless the breaker is open, and tells the breaker how
    /// it went.
    async fn guarded<T>(
        &self,
        request: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        if !self.breaker.allow() {
            return Err(error("unavailable (circuit open)".to_owned()));
        }
        match request.await {
            Ok(value) => {
                self.breaker.succeeded();
                Ok(value)
            }
            Err(e) => {
                self.breaker.failed(&e);
                Err(error(e.to_string()))
            }
        }
    }
}

fn error(message: String) -> StoreError {
    StoreError {
        store: "redis",
        message,
    }
}

/// The entry bytes of a stored value, if it was written under `generations`.
fn current_entry(value: Option<Vec<u8>>, generations: (u64, u64)) -> Option<Arc<[u8]>> {
    let value = value?;
    let (written, entry) = value.split_at_checked(16)?;
    let component = u64::from_le_bytes(written[..8].try_into().ok()?);
    let export = u64::from_le_bytes(written[8..].try_into().ok()?);
    ((component, export) == generations).then(|| Arc::from(entry))
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

    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Option<Arc<[u8]>>> {
        Box::pin(async move {
            let keys = [
                self.component_generation_key(slot.component),
                self.export_generation_key(slot.component, slot.export),
                self.entry_key(&slot),
            ];
            let mut connection = self.connection.clone();
            let values: Vec<Option<Vec<u8>>> = self.guarded(connection.mget(&keys)).await?;
            let mut values = values.into_iter();
            let (component, export, entry) = (values.next(), values.next(), values.next());
            let generations = (
                generation(component.flatten()),
                generation(export.flatten()),
            );
            Ok(current_entry(entry.flatten(), generations))
        })
    }

    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let ttl_ms = ttl.map_or(0, |ttl| ttl.as_millis().max(1) as u64);
            let mut connection = self.connection.clone();
            let mut invocation = self.set_script.prepare_invoke();
            invocation
                .key(self.component_generation_key(slot.component))
                .key(self.export_generation_key(slot.component, slot.export))
                .key(self.entry_key(&slot))
                .arg(&*value)
                .arg(ttl_ms);
            self.guarded(invocation.invoke_async::<i64>(&mut connection))
                .await?;
            Ok(())
        })
    }

    fn remove<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            self.guarded(connection.del::<_, i64>(self.entry_key(&slot)))
                .await?;
            Ok(())
        })
    }

    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let key = self.export_generation_key(component, export);
            self.guarded(connection.incr::<_, _, u64>(key, 1)).await?;
            Ok(())
        })
    }

    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let key = self.component_generation_key(component);
            self.guarded(connection.incr::<_, _, u64>(key, 1)).await?;
            Ok(())
        })
    }

    fn add_stats<'a>(&'a self, deltas: &'a [StatsRow]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
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
        Box::pin(async move {
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
