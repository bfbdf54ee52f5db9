//! What the Temporal worker tells its operators through the ops listener
//! (`--listen`): whether it is connected (readiness), its task slots and
//! poll errors (metrics); and the switches that stop running activities,
//! on a cancellation or when the shutdown grace runs out.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use temporalio_client::Connection;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::grpc::health::v1::HealthCheckRequest;
use tokio::sync::oneshot;

use crate::server::Frontend;

/// Longest the readiness check waits for Temporal's answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a running activity is being stopped.
#[derive(Debug)]
pub enum Stop {
    /// Temporal cancelled it (the reason, as Temporal gave it).
    Cancelled(String),
    /// The worker is shutting down and its grace has passed.
    ShutDown(Duration),
}

/// The worker's state, shared by its polling loop and its ops listener.
pub struct Status {
    /// Most activities run at once.
    slots: usize,
    /// The connection, once made.
    connection: OnceLock<Connection>,
    /// Whether the worker has started shutting down.
    stopping: AtomicBool,
    /// Poll errors seen.
    poll_errors: AtomicU64,
    /// The stop switches of running activities, by task token.
    running: Mutex<HashMap<Vec<u8>, oneshot::Sender<Stop>>>,
}

impl Status {
    /// A worker with `slots` task slots, not connected yet.
    pub fn new(slots: usize) -> Self {
        Self {
            slots,
            connection: OnceLock::new(),
            stopping: AtomicBool::new(false),
            poll_errors: AtomicU64::new(0),
            running: Mutex::default(),
        }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<Vec<u8>, oneshot::Sender<Stop>>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the connection the worker polls through.
    pub fn connected(&self, connection: Connection) {
        let _ = self.connection.set(connection);
    }

    /// Records that the worker is shutting down (it is no longer ready).
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Counts a poll error.
    pub fn poll_failed(&self) {
        self.poll_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers a started activity; the receiver says when to stop it.
    pub fn started(&self, token: &[u8]) -> oneshot::Receiver<Stop> {
        let (stop, stopped) = oneshot::channel();
        self.running().insert(token.to_vec(), stop);
        stopped
    }

    /// Forgets an activity that ended.
    pub fn ended(&self, token: &[u8]) {
        self.running().remove(token);
    }

    /// Stops the activity of `token`, if it still runs.
    pub fn stop(&self, token: &[u8], why: Stop) {
        if let Some(switch) = self.running().remove(token) {
            let _ = switch.send(why);
        }
    }

    /// Stops every running activity; returns how many there were.
    pub fn stop_all(&self, grace: Duration) -> usize {
        let running: Vec<_> = self.running().drain().collect();
        let count = running.len();
        for (_, switch) in running {
            let _ = switch.send(Stop::ShutDown(grace));
        }
        count
    }
}

impl Frontend for Status {
    fn not_ready(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            if self.stopping.load(Ordering::Relaxed) {
                return Some("shutting down".to_owned());
            }
            let Some(connection) = self.connection.get() else {
                return Some("not connected to Temporal yet".to_owned());
            };
            let mut health = connection.health_service();
            let request = HealthCheckRequest::default().into_request();
            match tokio::time::timeout(HEALTH_TIMEOUT, health.check(request)).await {
                Ok(Ok(_)) => None,
                Ok(Err(status)) => Some(format!("Temporal does not answer: {}", status.message())),
                Err(_) => Some(format!(
                    "Temporal does not answer within {HEALTH_TIMEOUT:?}"
                )),
            }
        })
    }

    fn metrics(&self, text: &mut String) {
        let used = self.running().len();
        let free = self.slots.saturating_sub(used);
        let _ = write!(
            text,
            "# HELP activity_host_temporal_task_slots Activity task slots of this worker.\n\
             # TYPE activity_host_temporal_task_slots gauge\n\
             activity_host_temporal_task_slots{{state=\"used\"}} {used}\n\
             activity_host_temporal_task_slots{{state=\"free\"}} {free}\n\
             # HELP activity_host_temporal_poll_errors_total Failed polls for activity tasks.\n\
             # TYPE activity_host_temporal_poll_errors_total counter\n\
             activity_host_temporal_poll_errors_total {}\n",
            self.poll_errors.load(Ordering::Relaxed)
        );
    }
}
