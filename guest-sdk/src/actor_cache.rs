//! The replica-local actor cache (Union's `@actor.cache`): memoize a
//! helper's result, such as a loaded model or a parsed file, for every call
//! on this worker, in any instance of this component.
//!
//! ```ignore
//! #[activity_sdk::actor_cache]
//! fn load_model(dir: &str) -> String { /* slow */ }
//!
//! // or, without the attribute:
//! let model: String = activity_sdk::actor_cache::get_or_compute("load-model", &dir, || slow(dir));
//! ```
//!
//! Keys are any `Serialize` value (custom structs included: derive
//! `Serialize`); results any `Serialize + DeserializeOwned` value. Both are
//! encoded with postcard. While one instance computes a key, other instances
//! asking for it wait for that result instead of computing it again.
//! Entries are private to this component and this build of it.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::bindings::activity::cache::actor_cache as raw;
use raw::Lookup;

/// `helper`'s result for `key`, computed by `compute` only when no instance
/// on this replica has it or is computing it. `helper` names the helper in
/// the host's log and stats and keeps its keys apart from other helpers'.
pub fn get_or_compute<K, R, F>(helper: &str, key: &K, compute: F) -> R
where
    K: Serialize + ?Sized,
    R: Serialize + DeserializeOwned,
    F: FnOnce() -> R,
{
    Helper::new(helper).get_or_compute(key, compute)
}

/// A named helper and how long its results are kept.
#[derive(Clone, Copy, Debug)]
pub struct Helper<'a> {
    name: &'a str,
    ttl: Option<Duration>,
}

impl<'a> Helper<'a> {
    /// The helper `name`, whose results are kept until evicted.
    pub fn new(name: &'a str) -> Self {
        Self { name, ttl: None }
    }

    /// Keeps results for `ttl` (`None`: until evicted).
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// This helper's result for `key`, computed by `compute` only when no
    /// instance on this replica has it or is computing it.
    pub fn get_or_compute<K, R, F>(&self, key: &K, compute: F) -> R
    where
        K: Serialize + ?Sized,
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> R,
    {
        self.get_or_compute_encoded(encode_key::<R, K>(key), compute)
    }

    /// [`Helper::get_or_compute`] with a key from [`encode_key`] (what
    /// `#[actor_cache]` expands to). `None`: the key could not be encoded,
    /// so the result is computed and not cached.
    pub fn get_or_compute_encoded<R, F>(&self, key: Option<Vec<u8>>, compute: F) -> R
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> R,
    {
        let Some(key) = key else {
            return compute();
        };
        match raw::fetch(self.name, &key) {
            Lookup::Hit(bytes) => match postcard::from_bytes(&bytes) {
                Ok(value) => value,
                // Another result type under this name: compute, do not cache.
                Err(_) => compute(),
            },
            Lookup::Compute(computation) => {
                let value = compute();
                if let Ok(bytes) = postcard::to_allocvec(&value) {
                    let ttl_ms = self.ttl.map(|ttl| ttl.as_millis() as u64);
                    computation.finish(&bytes, ttl_ms);
                }
                // Dropped unfinished otherwise: a waiter computes instead.
                value
            }
        }
    }
}

/// The actor-cache key of `key` for a helper returning `R`: the type names
/// of the result and of the key, and the key, postcard-encoded (so `1u8` and
/// `1u64`, or two result types, never share a key). `None` if the key cannot
/// be encoded.
pub fn encode_key<R, K: Serialize + ?Sized>(key: &K) -> Option<Vec<u8>> {
    let types = (std::any::type_name::<R>(), std::any::type_name::<K>());
    postcard::to_allocvec(&(types, key)).ok()
}

/// One argument of an `#[actor_cache]` helper as a part of its key (what the
/// attribute expands to: a part that is not `Serialize` is reported at the
/// argument's type).
#[doc(hidden)]
pub fn key_part<T: Serialize + ?Sized>(part: &T) -> &T {
    part
}
