//! The Temporal activity worker: polls a task queue of a Temporal service for
//! activity tasks and runs each through the host's memoizing path. Workflows
//! written with any Temporal SDK call the loaded exports by name
//! ([`names`]); arguments and results are JSON payloads ([`payloads`]);
//! failures are typed ([`failures`]).
//!
//! Built on Temporal's Rust core (`temporalio-sdk-core`), pinned to an exact
//! version: its poll / complete / heartbeat calls are all a worker needs, and
//! they take any activity type by name.

mod activity;
mod failures;
mod payloads;

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::FutureExt;
use temporalio_client::{Connection, ConnectionOptions};
use temporalio_common::protos::coresdk::ActivityTaskCompletion;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::{ActivityTask, activity_task};
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    CoreRuntime, PollError, RuntimeOptions, Url, Worker, WorkerConfig, WorkerVersioningStrategy,
    init_worker,
};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tracing::Instrument;

use activity_host::Host;
use failures::{Kind, failure};

/// Where and how the worker polls.
#[derive(Clone, Debug)]
pub struct TemporalConfig {
    /// The Temporal frontend, `HOST:PORT` (or an `http://` URL).
    pub address: String,
    /// The Temporal namespace.
    pub namespace: String,
    /// The task queue whose activity tasks this worker runs.
    pub task_queue: String,
    /// How this worker shows in Temporal (default `activity-host:PID@HOST`).
    pub identity: Option<String>,
    /// Most activity tasks run at once by this worker.
    pub max_concurrent: usize,
}

impl TemporalConfig {
    /// A config for `task_queue` at `address` in namespace `default`, with
    /// up to 100 concurrent activities.
    pub fn new(address: &str, task_queue: &str) -> Self {
        Self {
            address: address.to_owned(),
            namespace: "default".to_owned(),
            task_queue: task_queue.to_owned(),
            identity: None,
            max_concurrent: 100,
        }
    }
}

/// The cancel switches of running activities, by task token.
type Running = Arc<Mutex<HashMap<Vec<u8>, oneshot::Sender<String>>>>;

/// Connects to Temporal and runs activity tasks of `config.task_queue` with
/// `worker`'s components until `shutdown` resolves; then stops polling and
/// lets running activities finish.
pub async fn run(
    worker: &crate::worker::Worker,
    config: TemporalConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let host = worker.host.clone();
    let (_runtime, worker) = connect(&config).await?;
    let worker = Arc::new(worker);
    tracing::info!(
        address = config.address,
        namespace = config.namespace,
        task_queue = config.task_queue,
        activity_types = host.export_names().join(", "),
        "temporal worker polling"
    );
    let stopper = {
        let worker = worker.clone();
        tokio::spawn(async move {
            shutdown.await;
            worker.initiate_shutdown();
        })
    };
    let polled = poll(&host, &worker).await;
    stopper.abort();
    let _ = stopper.await;
    match Arc::try_unwrap(worker) {
        Ok(worker) => worker.finalize_shutdown().await,
        Err(worker) => worker.shutdown().await,
    }
    tracing::info!("temporal worker stopped");
    polled
}

/// The core worker, connected and checked against the namespace, and the
/// core runtime it belongs to (kept alive as long as the worker).
async fn connect(config: &TemporalConfig) -> anyhow::Result<(CoreRuntime, Worker)> {
    let url = if config.address.contains("://") {
        config.address.clone()
    } else {
        format!("http://{}", config.address)
    };
    let url = Url::parse(&url).with_context(|| format!("bad address `{}`", config.address))?;
    if url.scheme() != "http" {
        anyhow::bail!(
            "`{}`: only plain connections (HOST:PORT or http://) are supported, not TLS",
            config.address
        );
    }
    let identity = config.identity.clone().unwrap_or_else(default_identity);
    let options = ConnectionOptions::new(url)
        .identity(identity)
        .connect_timeout(Duration::from_secs(10))
        .build();
    let connection = Connection::connect(options)
        .await
        .with_context(|| format!("cannot connect to Temporal at {}", config.address))?;
    // No process-wide worker heartbeats: they are a newer server feature.
    let runtime_options = RuntimeOptions::builder()
        .heartbeat_interval(None)
        .build()
        .map_err(anyhow::Error::msg)?;
    let runtime = CoreRuntime::new_assume_tokio(runtime_options)?;
    let worker_config = WorkerConfig::builder()
        .namespace(config.namespace.clone())
        .task_queue(config.task_queue.clone())
        .task_types(WorkerTaskTypes::activity_only())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: concat!("activity-host@", env!("CARGO_PKG_VERSION")).to_owned(),
        })
        .max_outstanding_activities(config.max_concurrent)
        .build()
        .map_err(anyhow::Error::msg)?;
    let worker = init_worker(&runtime, worker_config, connection)?;
    worker
        .validate()
        .await
        .with_context(|| format!("namespace `{}`", config.namespace))?;
    Ok((runtime, worker))
}

/// Polls until the worker shuts down; each started activity runs in its own
/// task, a cancellation reaches it through its switch. A polling error ends
/// the worker: it stops taking tasks, lets the running ones finish (core
/// reports the end of polling only then), and returns the error.
async fn poll(host: &Arc<Host>, worker: &Arc<Worker>) -> anyhow::Result<()> {
    let running = Running::default();
    let mut tasks = JoinSet::new();
    let mut failed = None;
    loop {
        match worker.poll_activity_task().await {
            Ok(task) => {
                while tasks.try_join_next().is_some() {}
                dispatch(host, worker, &running, &mut tasks, task);
            }
            Err(PollError::ShutDown) => break,
            Err(error) if failed.is_none() => {
                tracing::error!(%error, "polling Temporal failed: stopping the worker");
                failed = Some(anyhow::Error::from(error).context("polling Temporal"));
                worker.initiate_shutdown();
            }
            Err(error) => tracing::debug!(%error, "polling Temporal failed again while stopping"),
        }
    }
    while tasks.join_next().await.is_some() {}
    failed.map_or(Ok(()), Err)
}

/// Starts or cancels the activity `task` names.
fn dispatch(
    host: &Arc<Host>,
    worker: &Arc<Worker>,
    running: &Running,
    tasks: &mut JoinSet<()>,
    task: ActivityTask,
) {
    let token = task.task_token;
    match task.variant {
        Some(activity_task::Variant::Start(start)) => {
            let (cancel, cancelled) = oneshot::channel();
            lock(running).insert(token.clone(), cancel);
            let span = tracing::info_span!(
                "temporal",
                workflow_id = start
                    .workflow_execution
                    .as_ref()
                    .map(|w| w.workflow_id.as_str()),
                activity_id = start.activity_id,
                attempt = start.attempt,
            );
            let (host, worker, running) = (host.clone(), worker.clone(), running.clone());
            tasks.spawn(
                async move {
                    let run = activity::run(&host, &worker, &token, &start, cancelled);
                    // A panic must still complete the task, or core would
                    // wait for it forever (and so would shutdown).
                    let result = AssertUnwindSafe(run)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            let message = "the worker panicked running this activity".to_owned();
                            ActivityExecutionResult::fail(failure(Kind::HostError, message, None))
                        });
                    lock(&running).remove(&token);
                    let completion = ActivityTaskCompletion {
                        task_token: token,
                        result: Some(result),
                    };
                    if let Err(error) = worker.complete_activity_task(completion).await {
                        tracing::error!(%error, "cannot report the activity's result to Temporal");
                    }
                }
                .instrument(span),
            );
        }
        Some(activity_task::Variant::Cancel(cancel)) => {
            if let Some(switch) = lock(running).remove(&token) {
                let _ = switch.send(format!("{:?}", cancel.reason()));
            }
        }
        None => tracing::warn!("an activity task without start or cancel: ignored"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `activity-host:PID@HOSTNAME`.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!("activity-host:{}@{host}", std::process::id())
}
