//! The worker-wide bound on guest memory (`max-total-memory-bytes`).
//!
//! Each component's `max-memory-bytes` bounds one of its instances; without
//! a worker-wide bound, ten concurrent calls each allowed 256 MiB can take
//! the process to 2.5 GiB. With a [`MemoryBudget`], every instance reserves
//! its component's `max-memory-bytes` before it is created and gives the
//! reservation back when it is dropped, so the guests' linear memories
//! together stay within the budget:
//!
//! - a call whose instance does not fit **waits** (first come, first served)
//!   until running calls end; warm instances idle in actor-mode pools are
//!   dropped to make room, and while calls wait, an instance whose call ends
//!   is dropped rather than kept warm;
//! - an instance growing its memories together past its reservation (a
//!   component with several linear memories) takes the rest from the budget
//!   if it is free, and fails with a memory error naming the budget if not:
//!   it never waits holding memory, so calls cannot wait for each other in a
//!   circle.
//!
//! Hits never create an instance, so they never wait for memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in WebAssembly pages (64 KiB): linear memories
/// grow by whole pages, and a page count of a budget fits tokio's permits.
const PAGE_BYTES: u64 = 64 * 1024;

/// Warm instances a budget may drop when calls wait for memory.
pub trait IdleInstances: Send + Sync {
    /// Drops every idle instance (their reservations return to the budget).
    fn drop_idle(&self);
}

/// One bound on the linear memory of all guest instances of a host.
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<Budget>,
}

struct Budget {
    free_pages: Arc<Semaphore>,
    total_pages: u32,
    waiting: AtomicUsize,
    waits: AtomicU64,
    idle: Mutex<Vec<Weak<dyn IdleInstances>>>,
}

/// What the budget reports (for metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudgetUsage {
    /// The budget, in bytes.
    pub total_bytes: u64,
    /// Reserved now, in bytes: by live instances, and handed to the call
    /// first in line while it waits for the rest.
    pub reserved_bytes: u64,
    /// Calls waiting for room.
    pub waiting_calls: usize,
    /// Calls that had to wait for room, since the host started.
    pub waits_total: u64,
}

impl MemoryBudget {
    /// A budget of `total_bytes` (rounded down to whole pages, at least one).
    pub fn new(total_bytes: u64) -> Self {
        let total_pages = (total_bytes / PAGE_BYTES)
            .clamp(1, Semaphore::MAX_PERMITS as u64)
            .min(u64::from(u32::MAX)) as u32;
        Self {
            inner: Arc::new(Budget {
                free_pages: Arc::new(Semaphore::new(total_pages as usize)),
                total_pages,
                waiting: AtomicUsize::new(0),
                waits: AtomicU64::new(0),
                idle: Mutex::default(),
            }),
        }
    }

    /// Reserves `bytes` (at most the whole budget) for one instance, waiting
    /// until that much is free.
    pub async fn reserve(&self, bytes: u64) -> Reservation {
        let pages = pages_in(bytes).min(self.inner.total_pages);
        let free = &self.inner.free_pages;
        if let Ok(permit) = free.clone().try_acquire_many_owned(pages) {
            return self.reservation(permit);
        }
        self.inner.waits.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting::count(&self.inner.waiting);
        self.drop_idle_instances();
        let permit = free
            .clone()
            .acquire_many_owned(pages)
            .await
            .expect("the budget's semaphore is never closed");
        self.reservation(permit)
    }

    /// Lets the budget drop `pool`'s idle instances when calls wait.
    pub fn watch(&self, pool: Weak<dyn IdleInstances>) {
        let mut idle = self.idle();
        idle.retain(|pool| pool.strong_count() > 0);
        idle.push(pool);
    }

    /// The budget, what is reserved and how many calls wait.
    pub fn usage(&self) -> MemoryBudgetUsage {
        let total = self.inner.total_pages;
        let free = self.inner.free_pages.available_permits() as u64;
        MemoryBudgetUsage {
            total_bytes: u64::from(total) * PAGE_BYTES,
            reserved_bytes: (u64::from(total) - free) * PAGE_BYTES,
            waiting_calls: self.inner.waiting.load(Ordering::Relaxed),
            waits_total: self.inner.waits.load(Ordering::Relaxed),
        }
    }

    fn reservation(&self, permit: OwnedSemaphorePermit) -> Reservation {
        Reservation {
            permit,
            budget: self.inner.clone(),
        }
    }

    fn drop_idle_instances(&self) {
        let pools: Vec<_> = self.idle().iter().filter_map(Weak::upgrade).collect();
        for pool in pools {
            pool.drop_idle();
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Weak<dyn IdleInstances>>> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Memory one instance holds from the budget; given back when dropped
/// (with the instance's store).
pub struct Reservation {
    permit: OwnedSemaphorePermit,
    budget: Arc<Budget>,
}

impl Reservation {
    /// The bytes reserved.
    pub fn bytes(&self) -> u64 {
        self.permit.num_permits() as u64 * PAGE_BYTES
    }

    /// Takes `more` bytes from the budget if they are free now (never
    /// waits); whether it did.
    pub fn try_extend(&mut self, more: u64) -> bool {
        let pages = pages_in(more);
        match self.budget.free_pages.clone().try_acquire_many_owned(pages) {
            Ok(extra) => {
                self.permit.merge(extra);
                true
            }
            Err(_) => false,
        }
    }

    /// The whole budget, in bytes (for error messages).
    pub fn budget_bytes(&self) -> u64 {
        u64::from(self.budget.total_pages) * PAGE_BYTES
    }

    /// Whether calls are waiting for memory (then an instance whose call
    /// ended is dropped rather than kept warm).
    pub fn contended(&self) -> bool {
        self.budget.waiting.load(Ordering::Relaxed) > 0
    }
}

/// Counts one waiting call for as long as it waits (a call cancelled while
/// waiting stops counting too).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whole pages holding `bytes`.
fn pages_in(bytes: u64) -> u32 {
    bytes.div_ceil(PAGE_BYTES).min(u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[tokio::test]
    async fn reservations_beyond_the_budget_wait_for_one_to_end() {
        let budget = MemoryBudget::new(100 * MIB);
        let first = budget.reserve(60 * MIB).await;
        assert_eq!(budget.usage().reserved_bytes, 60 * MIB);
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(60 * MIB).await.bytes() })
        };
        tokio::task::yield_now().await;
        assert_eq!(budget.usage().waiting_calls, 1);
        assert!(!waiter.is_finished());
        drop(first);
        assert_eq!(waiter.await.unwrap(), 60 * MIB);
        assert_eq!(budget.usage().reserved_bytes, 0);
        assert_eq!(budget.usage().waiting_calls, 0);
        assert_eq!(budget.usage().waits_total, 1);
    }

    #[tokio::test]
    async fn an_instance_larger_than_the_budget_reserves_all_of_it() {
        let budget = MemoryBudget::new(10 * MIB);
        let all = budget.reserve(256 * MIB).await;
        assert_eq!(all.bytes(), 10 * MIB);
    }

    #[tokio::test]
    async fn extending_takes_only_what_is_free() {
        let budget = MemoryBudget::new(10 * MIB);
        let mut reservation = budget.reserve(4 * MIB).await;
        assert!(reservation.try_extend(6 * MIB));
        assert_eq!(reservation.bytes(), 10 * MIB);
        assert!(!reservation.try_extend(1));
    }

    struct Pool(std::sync::atomic::AtomicBool, Mutex<Option<Reservation>>);

    impl IdleInstances for Pool {
        fn drop_idle(&self) {
            self.0.store(true, Ordering::Relaxed);
            self.1.lock().unwrap().take();
        }
    }

    #[tokio::test]
    async fn a_waiting_call_drops_idle_warm_instances() {
        let budget = MemoryBudget::new(10 * MIB);
        let idle = budget.reserve(8 * MIB).await;
        let pool = Arc::new(Pool(Default::default(), Mutex::new(Some(idle))));
        let watched: Arc<dyn IdleInstances> = pool.clone();
        budget.watch(Arc::downgrade(&watched));
        let reservation = budget.reserve(8 * MIB).await;
        assert!(pool.0.load(Ordering::Relaxed));
        assert_eq!(reservation.bytes(), 8 * MIB);
    }
}
