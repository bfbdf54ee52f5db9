//! The Redis lease: a key next to the entry (`PREFIX:l:{KEY}`, the same hash
//! slot) holding its owner's random token, with a TTL. Its owner renews it
//! every third of that TTL while the body runs, and releases it when it writes
//! the entry, in the same script, only if the lease is still its own
//! (compare-and-delete); the script then publishes "done" (see
//! [`super::events`]). Others wait for that message, never poll: they look
//! the entry up when it arrives, or when the lease's TTL lapses (its holder
//! died: one of them takes it over), or give up after the store's wait limit
//! and run the body themselves. Any lease duration works, sub-second ones
//! included.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use redis::Script;

use super::RedisStore;
use crate::key::CacheKey;
use crate::store::lease::Lease;
use crate::store::{Slot, StoreFuture};

/// Takes the lease (KEYS[1]) for token ARGV[1] for ARGV[2] ms if it is free;
/// returns {1, whether the entry KEYS[2] exists} or {0, the lease's PTTL}.
pub const CLAIM_SCRIPT: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('EXISTS', KEYS[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
";

/// Extends the lease KEYS[1] to ARGV[2] ms if token ARGV[1] still holds it.
const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// A token no other lease holder uses: random per process, then a counter.
pub fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    // std's RandomState is seeded from the OS's random source.
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let (high, low) = *PROCESS.get_or_init(|| (random(), random() ^ u64::from(std::process::id())));
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{high:016x}{low:016x}-{count}")
}

/// A lease held in Redis, renewed until finished or dropped.
pub struct RedisLease {
    store: RedisStore,
    slot: OwnedSlot,
    token: String,
    entry_existed: bool,
    renewal: tokio::task::JoinHandle<()>,
    finished: bool,
}

impl RedisLease {
    /// The lease `token` on `slot`, just taken for `duration`; starts renewing it.
    pub fn start(
        store: RedisStore,
        slot: OwnedSlot,
        token: String,
        duration: Duration,
        entry_existed: bool,
    ) -> Self {
        let renewal = tokio::spawn(renew(
            store.clone(),
            store.lease_key(&slot.key),
            token.clone(),
            duration,
        ));
        Self {
            store,
            slot,
            token,
            entry_existed,
            renewal,
            finished: false,
        }
    }
}

/// Renews the lease every third of its duration until aborted or lost.
async fn renew(store: RedisStore, lease_key: String, token: String, duration: Duration) {
    let script = Script::new(RENEW_SCRIPT);
    let period = (duration / 3).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval(period);
    ticks.tick().await; // the first tick is immediate
    loop {
        ticks.tick().await;
        let mut connection = store.connection();
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&lease_key)
            .arg(&token)
            .arg(duration.as_millis().max(1) as u64);
        match invocation.invoke_async::<i64>(&mut connection).await {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(
                    lease = %lease_key,
                    "lease lost while the body runs (it outlived the lease without renewal); \
                     another worker may run it too"
                );
                return;
            }
            Err(error) => tracing::debug!(%error, "lease renewal failed; retrying"),
        }
    }
}

impl Lease for RedisLease {
    fn entry_existed(&self) -> bool {
        self.entry_existed
    }

    fn finish(
        mut self: Box<Self>,
        entry: Option<(Bytes, Option<Duration>)>,
    ) -> StoreFuture<'static, ()> {
        self.finished = true;
        self.renewal.abort();
        StoreFuture::new(async move {
            self.store
                .write(self.slot.slot(), entry, Some(&self.token))
                .await
        })
    }
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        self.renewal.abort();
        if self.finished {
            return;
        }
        // Cancelled or failed before finishing: release now rather than let
        // waiters sit out the lease's TTL.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, slot, token) = (
                self.store.clone(),
                self.slot.clone(),
                std::mem::take(&mut self.token),
            );
            runtime.spawn(async move {
                let _ = store.write(slot.slot(), None, Some(&token)).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique() {
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 1000);
    }
}

/// A slot that owns its names.
#[derive(Clone, Debug)]
pub struct OwnedSlot {
    /// The call's key.
    pub key: CacheKey,
    /// The component.
    pub component: String,
    /// The export's path.
    pub export: String,
}

impl OwnedSlot {
    /// A copy of `slot`.
    pub fn new(slot: Slot<'_>) -> Self {
        Self {
            key: *slot.key,
            component: slot.component.to_owned(),
            export: slot.export.to_owned(),
        }
    }

    /// The borrowed form.
    pub fn slot(&self) -> Slot<'_> {
        Slot::result(&self.key, &self.component, &self.export)
    }
}
