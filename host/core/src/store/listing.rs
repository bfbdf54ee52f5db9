//! Listing what a store holds: the entries of a component or an export, a
//! page at a time.

use std::time::Duration;

use crate::key::CacheKey;

/// Which entries to list, and where to resume.
#[derive(Clone, Copy, Debug)]
pub struct EntryQuery<'a> {
    /// The component whose entries to list.
    pub component: &'a str,
    /// Only this export's entries (`None`: every export's).
    pub export: Option<&'a str>,
    /// Where the previous page ended ([`EntryPage::next`]); `None` starts.
    pub cursor: Option<&'a str>,
    /// How many entries a page should hold. A store that reads in batches
    /// (Redis) may return a few more.
    pub limit: usize,
}

/// One cached result, as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// The entry's key.
    pub key: CacheKey,
    /// The component's name.
    pub component: String,
    /// The export's path.
    pub export: String,
    /// The size of the stored result.
    pub bytes: u64,
    /// Time since it was stored.
    pub age: Duration,
    /// Time until it expires (`None`: kept until evicted or invalidated).
    pub ttl_left: Option<Duration>,
    /// Lookups that found it since it was stored (on Redis, added to the
    /// store at each counters' flush).
    pub hits: u64,
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryPage {
    /// The entries, in the store's order.
    pub entries: Vec<StoredEntry>,
    /// The cursor of the next page, or `None` if this was the last.
    pub next: Option<String>,
}
