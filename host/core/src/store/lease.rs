//! Single-flight across processes: at most one worker computes a key at a
//! time, through a lease in a shared store ([`CacheStore::claim`]); see the
//! Redis store's lease for how one is held.
//!
//! [`CacheStore::claim`]: super::CacheStore::claim

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use super::StoreFuture;

/// The answer of [`super::CacheStore::claim`].
pub enum Claim {
    /// No other process shares the store: run.
    Unshared,
    /// This process holds the lease: run, then [`Lease::finish`].
    Owner(Box<dyn Lease>),
    /// Another process holds the lease. `released` resolves when it finishes
    /// or its lease lapses; then look the entry up, and claim again if it is
    /// not there. Stop waiting after `max_wait` in all.
    Held {
        /// Resolves when it is worth looking again.
        released: Pin<Box<dyn Future<Output = ()> + Send>>,
        /// How long a caller may wait in all before running the body itself.
        max_wait: Duration,
    },
}

/// The right to compute one entry, held by this process.
pub trait Lease: Send {
    /// Whether an entry was in the slot when the lease was taken (another
    /// process may have just written it): look it up before running.
    fn entry_existed(&self) -> bool;

    /// Writes `entry` (bytes and TTL), if any, and releases the lease, waking
    /// every process waiting for it. A lease dropped unfinished is released
    /// in the background.
    fn finish(
        self: Box<Self>,
        entry: Option<(Bytes, Option<Duration>)>,
    ) -> StoreFuture<'static, ()>;
}
