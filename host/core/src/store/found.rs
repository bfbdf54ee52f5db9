//! What a lookup found: the entry's bytes, or why there is none (the
//! `reason=` of a miss).

use std::fmt;

use bytes::Bytes;

/// What [`CacheStore::get`](super::CacheStore::get) found in a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// The entry's bytes.
    Entry(Bytes),
    /// No usable entry, and why.
    Missing(MissReason),
}

impl Found {
    /// The entry's bytes, if any.
    pub fn entry(self) -> Option<Bytes> {
        match self {
            Self::Entry(bytes) => Some(bytes),
            Self::Missing(_) => None,
        }
    }
}

/// Why a call missed: written as `reason="…"` on its log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissReason {
    /// Nothing the store remembers was stored for the key (on Redis, also
    /// an entry Redis evicted under `maxmemory`: Redis does not say).
    New,
    /// An entry was stored; its TTL passed.
    Expired,
    /// The entry, its export or its component was invalidated.
    Invalidated,
    /// The store evicted the entry to stay within its memory bound (the
    /// memory store, which remembers the keys it evicted lately).
    Evicted,
    /// `task-source`: the same inputs ran before under another version of
    /// the component's code (told by the memoizer, not a store).
    CodeChanged,
    /// The caller asked to recompute (told by the memoizer, not a store).
    Refresh,
    /// An entry was there but could not be read as the export's result
    /// (damaged); it is overwritten (told by the memoizer, with a warning).
    Unreadable,
}

impl MissReason {
    /// The reason as written in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Expired => "expired",
            Self::Invalidated => "invalidated",
            Self::Evicted => "evicted",
            Self::CodeChanged => "code-changed",
            Self::Refresh => "refresh",
            Self::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for MissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
