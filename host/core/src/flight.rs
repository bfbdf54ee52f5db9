//! Single-flight: concurrent identical misses in one process run the body
//! once.
//!
//! The first caller for a key becomes the *leader* and runs; callers that
//! arrive while it runs become *waiters* and are woken (not polled) with a
//! clone of the leader's outcome, success or error. Different keys never
//! wait on each other. If a leader is cancelled before it finishes, its
//! waiters are woken with nothing and try again (one of them leads).
//!
//! A caller that looked the store up just before a leader finished and joins
//! just after it may run the body once more; the guarantee covers calls that
//! overlap the leader's run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::key::CacheKey;

/// The calls in flight, by key; `T` is what a leader hands its waiters.
pub struct SingleFlight<T> {
    flights: Mutex<HashMap<CacheKey, watch::Receiver<Option<T>>>>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            flights: Mutex::default(),
        }
    }
}

/// A caller's part in a flight.
pub enum Role<T> {
    /// Run the call, then [`Leader::finish`].
    Leader(Leader<T>),
    /// Another caller is running it: [`Waiter::outcome`].
    Waiter(Waiter<T>),
}

/// The caller that runs a call for everyone waiting on its key (owned, so
/// it can outlive the caller's borrow, e.g. inside a guest's resource).
pub struct Leader<T> {
    flights: Arc<SingleFlight<T>>,
    key: CacheKey,
    done: watch::Sender<Option<T>>,
}

/// A caller waiting for a leader.
pub struct Waiter<T> {
    done: watch::Receiver<Option<T>>,
}

impl<T: Clone> SingleFlight<T> {
    /// Joins the flight for `key`, as its leader if there is none.
    pub fn join(self: &Arc<Self>, key: CacheKey) -> Role<T> {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(done) = flights.get(&key) {
            return Role::Waiter(Waiter { done: done.clone() });
        }
        let (done, receiver) = watch::channel(None);
        flights.insert(key, receiver);
        Role::Leader(Leader {
            flights: self.clone(),
            key,
            done,
        })
    }
}

impl<T> Leader<T> {
    /// Hands `outcome` to every waiter and ends the flight.
    pub fn finish(self, outcome: T) {
        self.done.send_replace(Some(outcome));
        // Dropping `self` removes the flight.
    }
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        let mut flights = self
            .flights
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        flights.remove(&self.key);
    }
}

impl<T: Clone> Waiter<T> {
    /// The leader's outcome, or `None` if the leader was cancelled.
    pub async fn outcome(mut self) -> Option<T> {
        let outcome = self.done.wait_for(Option::is_some).await.ok()?;
        outcome.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    async fn call(flights: &Arc<SingleFlight<u32>>, key: CacheKey, runs: &AtomicUsize) -> u32 {
        loop {
            match flights.join(key) {
                Role::Leader(leader) => {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    leader.finish(7);
                    return 7;
                }
                Role::Waiter(waiter) => {
                    if let Some(outcome) = waiter.outcome().await {
                        return outcome;
                    }
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_identical_calls_run_once() {
        let flights = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let key = CacheKey::from_bytes([1; 32]);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (flights, runs) = (flights.clone(), runs.clone());
                tokio::spawn(async move { call(&flights, key, &runs).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(
            flights.flights.lock().unwrap().is_empty(),
            "finished flights are removed"
        );
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_on_each_other() {
        let flights = Arc::new(SingleFlight::<u32>::default());
        let Role::Leader(_first) = flights.join(CacheKey::from_bytes([1; 32])) else {
            panic!("first caller leads")
        };
        assert!(matches!(
            flights.join(CacheKey::from_bytes([2; 32])),
            Role::Leader(_)
        ));
    }

    #[tokio::test]
    async fn a_cancelled_leader_releases_its_waiters() {
        let flights = Arc::new(SingleFlight::<u32>::default());
        let key = CacheKey::from_bytes([1; 32]);
        let Role::Leader(leader) = flights.join(key) else {
            panic!("first caller leads")
        };
        let Role::Waiter(waiter) = flights.join(key) else {
            panic!("second caller waits")
        };
        drop(leader);
        assert_eq!(waiter.outcome().await, None);
        assert!(
            matches!(flights.join(key), Role::Leader(_)),
            "the next caller leads"
        );
    }
}
