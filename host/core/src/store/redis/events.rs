//! Messages between the workers that share one Redis: "this key is done"
//! (wakes processes waiting on a lease) and invalidations (drop entries from
//! every worker's in-memory tier).
//!
//! Every worker keeps one pub/sub connection, subscribed to the channel
//! `PREFIX:events`, and dispatches what arrives to its local waiters and
//! listeners; nothing is polled. In a cluster, published messages reach
//! every node, so the subscription follows one node and moves to the next
//! when that node fails. Whenever the subscription is (re)established,
//! listeners get [`Invalidation::Resync`]: messages may have been missed.
//! An invalidation names the worker that sent it, so a worker hears only
//! its peers' (it has applied its own already).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};

use super::credentials::Credentials;
use crate::key::CacheKey;

/// An invalidation announced by some worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// One entry was removed.
    Entry(CacheKey),
    /// Every entry of an export was invalidated.
    Export {
        /// The component.
        component: String,
        /// The export's path.
        export: String,
    },
    /// Every entry of a component was invalidated.
    Component(String),
    /// The subscription was (re)established: messages may have been missed.
    Resync,
}

/// The wire form of messages: a word, then fields separated by NUL bytes
/// (component names and export paths may contain any other character);
/// an invalidation ends with its sender's origin.
pub mod message {
    use super::{CacheKey, Invalidation};

    /// A message as received.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Received<'a> {
        /// The entry under this key is written (or its computation ended).
        Done(CacheKey),
        /// The worker with this origin announced an invalidation.
        Invalidated(Invalidation, &'a str),
    }

    /// The message announcing that the entry `key` is written (or that its
    /// computation ended without one).
    pub fn done(key: &CacheKey) -> String {
        format!("done\0{key}")
    }

    /// The message announcing `invalidation`, sent by the worker `origin`.
    pub fn invalidated(invalidation: &Invalidation, origin: &str) -> String {
        match invalidation {
            Invalidation::Entry(key) => format!("entry\0{key}\0{origin}"),
            Invalidation::Export { component, export } => {
                format!("export\0{component}\0{export}\0{origin}")
            }
            Invalidation::Component(component) => format!("component\0{component}\0{origin}"),
            Invalidation::Resync => format!("resync\0{origin}"),
        }
    }

    /// A received message, or `None` if it is not one of ours. An
    /// invalidation without an origin (from a worker of an earlier version)
    /// is a peer's.
    pub fn parse(payload: &[u8]) -> Option<Received<'_>> {
        let text = std::str::from_utf8(payload).ok()?;
        let fields: Vec<&str> = text.split('\0').collect();
        let (word, rest) = fields.split_first()?;
        let arity = match *word {
            "done" | "entry" | "component" => 1,
            "export" => 2,
            _ => return None,
        };
        let (args, origin) = match rest.len().checked_sub(arity)? {
            0 => (rest, ""),
            1 => (&rest[..arity], rest[arity]),
            _ => return None,
        };
        let invalidation = match (*word, args) {
            ("done", [key]) if origin.is_empty() => {
                return Some(Received::Done(CacheKey::from_hex(key)?));
            }
            ("entry", [key]) => Invalidation::Entry(CacheKey::from_hex(key)?),
            ("export", [component, export]) => Invalidation::Export {
                component: (*component).to_owned(),
                export: (*export).to_owned(),
            },
            ("component", [component]) => Invalidation::Component((*component).to_owned()),
            _ => return None,
        };
        Some(Received::Invalidated(invalidation, origin))
    }
}

/// Pause between attempts to (re)subscribe.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(200);

/// This worker's end of the channel.
pub struct Events {
    shared: Arc<Shared>,
    subscriber: OnceLock<tokio::task::AbortHandle>,
}

struct Shared {
    channel: String,
    /// This worker's name in the invalidations it sends.
    origin: String,
    node_urls: Vec<String>,
    credentials: Credentials,
    connect_timeout: Duration,
    subscribed: AtomicBool,
    /// One sender per key some local caller waits on.
    waiters: Mutex<HashMap<CacheKey, watch::Sender<()>>>,
    invalidations: broadcast::Sender<Invalidation>,
}

/// A registration for the "done" message of one key: dropped, it unregisters.
pub struct DoneWatch {
    shared: Arc<Shared>,
    key: CacheKey,
    done: watch::Receiver<()>,
}

impl Events {
    /// The events on `channel`, read through any of `node_urls` with
    /// `credentials`. Nothing connects before [`Events::start`].
    pub fn new(
        channel: String,
        node_urls: Vec<String>,
        credentials: Credentials,
        connect_timeout: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                channel,
                origin: super::lease::new_token(),
                node_urls,
                credentials,
                connect_timeout,
                subscribed: AtomicBool::new(false),
                waiters: Mutex::default(),
                invalidations: broadcast::channel(1024).0,
            }),
            subscriber: OnceLock::new(),
        }
    }

    /// The channel messages are published on.
    pub fn channel(&self) -> &str {
        &self.shared.channel
    }

    /// Starts the subscriber task, once (from within a tokio runtime).
    pub fn start(&self) {
        self.subscriber.get_or_init(|| {
            let shared = Arc::downgrade(&self.shared);
            tokio::spawn(subscribe_forever(shared)).abort_handle()
        });
    }

    /// Whether messages are being received right now.
    pub fn is_subscribed(&self) -> bool {
        self.shared.subscribed.load(Ordering::Acquire)
    }

    /// Registers for the "done" message of `key` (register before checking
    /// whether the key is done, so the message cannot slip in between).
    pub fn watch_done(&self, key: CacheKey) -> DoneWatch {
        let mut waiters = self.shared.lock_waiters();
        let done = waiters
            .entry(key)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        DoneWatch {
            shared: self.shared.clone(),
            key,
            done,
        }
    }

    /// The message announcing `invalidation` as this worker's.
    pub fn announcement(&self, invalidation: &Invalidation) -> String {
        message::invalidated(invalidation, &self.shared.origin)
    }

    /// Invalidations other workers announce from now on (and resyncs).
    pub fn invalidations(&self) -> broadcast::Receiver<Invalidation> {
        self.shared.invalidations.subscribe()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        if let Some(subscriber) = self.subscriber.get() {
            subscriber.abort();
        }
    }
}

impl DoneWatch {
    /// Resolves when the key's "done" message arrives, when the subscription
    /// is re-established (a message may have been missed), or after `limit`.
    pub async fn done_or(mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.done.changed()).await;
    }
}

impl Drop for DoneWatch {
    fn drop(&mut self) {
        let mut waiters = self.shared.lock_waiters();
        if waiters
            .get(&self.key)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            waiters.remove(&self.key);
        }
    }
}

impl Shared {
    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, watch::Sender<()>>> {
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dispatch(&self, payload: &[u8]) {
        match message::parse(payload) {
            Some(message::Received::Done(key)) => {
                if let Some(sender) = self.lock_waiters().get(&key) {
                    sender.send_replace(());
                }
            }
            Some(message::Received::Invalidated(_, origin)) if origin == self.origin => {}
            Some(message::Received::Invalidated(invalidation, _)) => {
                let _ = self.invalidations.send(invalidation);
            }
            None => tracing::debug!("ignored an unknown message on the events channel"),
        }
    }

    /// After (re)subscribing: wake every waiter and tell every listener.
    fn resync(&self) {
        for sender in self.lock_waiters().values() {
            sender.send_replace(());
        }
        let _ = self.invalidations.send(Invalidation::Resync);
    }
}

/// Keeps a subscription open, moving from node to node, until the [`Events`]
/// it serves is dropped.
async fn subscribe_forever(shared: Weak<Shared>) {
    for attempt in 0usize.. {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let Some(url) = strong
            .node_urls
            .get(attempt % strong.node_urls.len().max(1))
            .cloned()
        else {
            return; // no node to subscribe through
        };
        let (channel, timeout) = (strong.channel.clone(), strong.connect_timeout);
        let client = strong.credentials.client(&url);
        drop(strong);
        let subscription = tokio::time::timeout(timeout, async {
            let mut pubsub = client?.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        })
        .await;
        if let Ok(Ok(pubsub)) = subscription {
            let Some(strong) = shared.upgrade() else {
                return;
            };
            strong.subscribed.store(true, Ordering::Release);
            strong.resync();
            drop(strong);
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let Some(strong) = shared.upgrade() else {
                    return;
                };
                strong.dispatch(message.get_payload_bytes());
            }
            if let Some(strong) = shared.upgrade() {
                strong.subscribed.store(false, Ordering::Release);
            }
            tracing::debug!(%url, "events subscription lost; resubscribing");
        }
        tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let key = CacheKey::from_bytes([7; 32]);
        assert_eq!(
            message::parse(message::done(&key).as_bytes()),
            Some(message::Received::Done(key))
        );
        for invalidation in [
            Invalidation::Entry(key),
            Invalidation::Export {
                component: "users".into(),
                export: "example:users/api@0.1.0#fetch-user".into(),
            },
            Invalidation::Component("a#b".into()),
        ] {
            let text = message::invalidated(&invalidation, "w1");
            assert_eq!(
                message::parse(text.as_bytes()),
                Some(message::Received::Invalidated(invalidation, "w1"))
            );
        }
        // A worker of an earlier version names no origin: a peer's.
        assert_eq!(
            message::parse(b"component\0users"),
            Some(message::Received::Invalidated(
                Invalidation::Component("users".into()),
                ""
            ))
        );
        assert_eq!(message::parse(b"nonsense\0x"), None);
        assert_eq!(message::parse(b"done\0zz"), None);
    }
}
