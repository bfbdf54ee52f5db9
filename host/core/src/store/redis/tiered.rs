//! The tiered store: this worker's in-memory store (L1) in front of Redis
//! (L2).
//!
//! A lookup tries L1, then L2; what L2 returns is copied into L1 for at most
//! the L1 TTL and never beyond the entry's own expiry. Writes go to both.
//! Every invalidation is announced on Redis's events channel and applied to
//! every worker's L1; while that subscription is down, nothing is copied
//! into L1, and when it comes back L1 is emptied (messages may have been
//! missed). So a stale L1 entry can only outlive an invalidation by the time
//! the message takes to arrive. A peer's invalidation is logged (`by="peer"`)
//! as it is applied. Leases and shared counters are Redis's.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;

use super::events::Invalidation;
use super::lease::OwnedSlot;
use super::{RedisStore, unix_now_ms};
use crate::event_line;
use crate::key::CacheKey;
use crate::stats::StatsRow;
use crate::store::lease::{Claim, Lease};
use crate::store::memory::Generations;
use crate::store::{
    CacheStore, EntryPage, EntryQuery, Found, MemoryStore, Slot, StoreFuture, StoreUsage,
};

/// Default time an entry stays in L1: 10 s.
pub const DEFAULT_L1_TTL: Duration = Duration::from_secs(10);

/// A [`CacheStore`] with an in-memory L1 in front of Redis.
pub struct TieredStore {
    l1: MemoryStore,
    l2: RedisStore,
    l1_ttl: Duration,
    listener: OnceLock<tokio::task::AbortHandle>,
}

impl TieredStore {
    /// `l1` in front of `l2`; L1 keeps entries at most `l1_ttl`.
    pub fn new(l1: MemoryStore, l2: RedisStore, l1_ttl: Duration) -> Self {
        Self {
            l1,
            l2,
            l1_ttl,
            listener: OnceLock::new(),
        }
    }

    /// Starts applying other workers' invalidations to L1, once.
    fn listen(&self) {
        self.listener.get_or_init(|| {
            let events = self.l2.events();
            events.start();
            tokio::spawn(apply_invalidations(self.l1.clone(), events.invalidations()))
                .abort_handle()
        });
    }

    /// Copies an entry fetched from L2 into L1, as of `generations`.
    fn fill_l1(
        &self,
        slot: Slot<'_>,
        bytes: Bytes,
        rule_ttl: Option<Duration>,
        generations: Generations,
    ) {
        if !self.l2.events().is_subscribed() {
            return; // invalidations could not reach this L1
        }
        let ttl = l1_lifetime(rule_ttl, self.l1_ttl);
        self.l1.insert_as_of(slot, bytes, Some(ttl), generations);
    }
}

impl Drop for TieredStore {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get() {
            listener.abort();
        }
    }
}

async fn apply_invalidations(
    l1: MemoryStore,
    mut invalidations: tokio::sync::broadcast::Receiver<Invalidation>,
) {
    loop {
        match invalidations.recv().await {
            Ok(Invalidation::Entry(key)) => {
                event_line::invalidated("peer", None, None, Some(key.short_hex().as_str()));
                l1.remove_key(&key);
            }
            Ok(Invalidation::Export { component, export }) => {
                event_line::invalidated("peer", Some(&component), Some(&export), None);
                l1.bump(&component, Some(&export));
            }
            Ok(Invalidation::Component(component)) => {
                event_line::invalidated("peer", Some(&component), None, None);
                l1.bump(&component, None);
            }
            Ok(Invalidation::Resync) | Err(RecvError::Lagged(_)) => l1.clear(),
            Err(RecvError::Closed) => return,
        }
    }
}

/// How long L1 keeps an entry whose own TTL is `ttl`: at most `l1_ttl`.
fn l1_lifetime(ttl: Option<Duration>, l1_ttl: Duration) -> Duration {
    ttl.map_or(l1_ttl, |ttl| ttl.min(l1_ttl))
}

/// Milliseconds until `expires_at_ms` (Unix ms), if in the future.
fn remaining(expires_at_ms: u64) -> Option<Duration> {
    expires_at_ms
        .checked_sub(unix_now_ms())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

impl CacheStore for TieredStore {
    fn name(&self) -> &'static str {
        "tiered"
    }

    /// L1's entry, else L2's (copied into L1); a miss says why L2 has none.
    fn get<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Found> {
        self.listen();
        let generations = self.l1.current(&slot);
        if let Some(bytes) = self.l1.lookup_current(slot, generations) {
            self.l2.count_hit(slot);
            return StoreFuture::ready(Ok(Found::Entry(bytes)));
        }
        StoreFuture::new(async move {
            let entry = match self.l2.get_entry(slot).await? {
                Ok(entry) => entry,
                Err(reason) => return Ok(Found::Missing(reason)),
            };
            let ttl = match entry.expires_at_ms {
                None => None,
                Some(at) => match remaining(at) {
                    Some(ttl) => Some(ttl),
                    None => return Ok(Found::Entry(entry.bytes)), // about to expire
                },
            };
            self.fill_l1(slot, entry.bytes.clone(), ttl, generations);
            Ok(Found::Entry(entry.bytes))
        })
    }

    fn set<'a>(
        &'a self,
        slot: Slot<'a>,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        StoreFuture::new(async move {
            let generations = self.l1.current(&slot);
            self.l2.set(slot, value.clone(), ttl).await?;
            self.fill_l1(slot, value, ttl, generations);
            Ok(())
        })
    }

    fn remove<'a>(&'a self, key: &'a CacheKey) -> StoreFuture<'a, bool> {
        StoreFuture::new(async move {
            self.l1.remove_key(key);
            self.l2.remove(key).await
        })
    }

    /// Redis's entries (L1 holds copies of some of them).
    fn entries<'a>(&'a self, query: EntryQuery<'a>) -> StoreFuture<'a, EntryPage> {
        self.l2.entries(query)
    }

    /// Redis's figures (the memory tier holds copies of some entries).
    fn usage(&self) -> StoreFuture<'_, Option<StoreUsage>> {
        self.l2.usage()
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        self.l2.flush()
    }

    fn invalidate_export<'a>(&'a self, component: &'a str, export: &'a str) -> StoreFuture<'a, ()> {
        StoreFuture::new(async move {
            self.l1.bump(component, Some(export));
            self.l2.invalidate_export(component, export).await
        })
    }

    fn invalidate_component<'a>(&'a self, component: &'a str) -> StoreFuture<'a, ()> {
        StoreFuture::new(async move {
            self.l1.bump(component, None);
            self.l2.invalidate_component(component).await
        })
    }

    fn claim<'a>(&'a self, slot: Slot<'a>) -> StoreFuture<'a, Claim> {
        StoreFuture::new(async move {
            let generations = self.l1.current(&slot);
            Ok(match self.l2.claim(slot).await? {
                Claim::Owner(lease) => Claim::Owner(Box::new(TieredLease {
                    lease,
                    l1: self.l1.clone(),
                    slot: OwnedSlot::new(slot),
                    generations,
                    l1_ttl: self.l1_ttl,
                    subscribed: self.l2.events().is_subscribed(),
                })),
                other => other,
            })
        })
    }

    fn is_healthy(&self) -> bool {
        self.l2.is_healthy()
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.l2.ping()
    }

    fn add_stats<'a>(&'a self, deltas: &'a [StatsRow]) -> StoreFuture<'a, ()> {
        self.l2.add_stats(deltas)
    }

    fn stats(&self) -> StoreFuture<'_, Option<Vec<StatsRow>>> {
        self.l2.stats()
    }
}

/// Redis's lease, which also fills L1 when it writes the entry.
struct TieredLease {
    lease: Box<dyn Lease>,
    l1: MemoryStore,
    slot: OwnedSlot,
    generations: Generations,
    l1_ttl: Duration,
    subscribed: bool,
}

impl Lease for TieredLease {
    fn entry_existed(&self) -> bool {
        self.lease.entry_existed()
    }

    fn finish(
        self: Box<Self>,
        entry: Option<(Bytes, Option<Duration>)>,
    ) -> StoreFuture<'static, ()> {
        let Self {
            lease,
            l1,
            slot,
            generations,
            l1_ttl,
            subscribed,
        } = *self;
        StoreFuture::new(async move {
            lease.finish(entry.clone()).await?;
            if let (Some((bytes, ttl)), true) = (entry, subscribed) {
                l1.insert_as_of(
                    slot.slot(),
                    bytes,
                    Some(l1_lifetime(ttl, l1_ttl)),
                    generations,
                );
            }
            Ok(())
        })
    }
}
