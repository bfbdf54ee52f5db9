//! The Temporal activity worker: polls a task queue of a Temporal service for
//! activity tasks and runs each through the host's memoizing path. Workflows
//! written with any Temporal SDK call the loaded exports by name
//! ([`names`]); arguments and results are JSON payloads ([`payloads`]);
//! failures are typed ([`failures`]). It connects as Temporal's own clients
//! do ([`connection`]: TLS, mutual TLS, API keys, profiles) and reports its
//! state to the ops listener ([`status`]).
//!
//! Built on Temporal's Rust core (`temporalio-sdk-core`), pinned to an exact
//! version: its poll / complete / heartbeat calls are all a worker needs, and
//! they take any activity type by name.

mod activity;
mod connection;
mod failures;
mod payloads;
mod status;

pub use connection::TemporalConnection;
pub use status::Status;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::FutureExt;
use temporalio_client::Connection;
use temporalio_common::protos::coresdk::ActivityTaskCompletion;
use temporalio_common::protos::coresdk::activity_result::ActivityExecutionResult;
use temporalio_common::protos::coresdk::activity_task::{ActivityTask, activity_task};
use temporalio_common::worker::WorkerTaskTypes;
use temporalio_sdk_core::{
    CoreRuntime, PollError, RuntimeOptions, Worker, WorkerConfig, WorkerVersioningStrategy,
    init_worker,
};
use tokio::task::JoinSet;
use tracing::Instrument;

use activity_host::Host;
use failures::{Kind, failure};
use status::Stop;

/// How the worker polls, and how it stops.
#[derive(Clone, Debug)]
pub struct TemporalConfig {
    /// The task queue whose activity tasks this worker runs.
    pub task_queue: String,
    /// How this worker shows in Temporal (default `activity-host:PID@HOST`).
    pub identity: Option<String>,
    /// Most activity tasks run at once by this worker.
    pub max_concurrent: usize,
    /// How long running activities may go on once shutdown begins; then
    /// they are stopped and reported failed, so Temporal retries them
    /// elsewhere.
    pub shutdown_grace: Duration,
}

/// Connects to Temporal and runs activity tasks of `config.task_queue` with
/// `worker`'s components until `shutdown` resolves; then stops polling and
/// lets running activities finish within the grace. `status` follows it
/// all (for the ops listener).
pub async fn run(
    worker: &crate::worker::Worker,
    connection: &TemporalConnection,
    config: TemporalConfig,
    status: Arc<Status>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let host = worker.host.clone();
    let (_runtime, worker, namespace, address) = connect(connection, &config, &status).await?;
    let worker = Arc::new(worker);
    tracing::info!(
        address,
        namespace,
        task_queue = config.task_queue,
        activity_types = host.export_names().join(", "),
        "temporal worker polling"
    );
    let stopper = {
        let (worker, status, grace) = (worker.clone(), status.clone(), config.shutdown_grace);
        tokio::spawn(async move {
            shutdown.await;
            status.stopping();
            worker.initiate_shutdown();
            tokio::time::sleep(grace).await;
            let stopped = status.stop_all(grace);
            if stopped > 0 {
                tracing::warn!(
                    activities = stopped,
                    grace = %humantime::format_duration(grace),
                    "shutdown grace passed: running activities stopped and reported \
                     failed (Temporal retries them on another worker)"
                );
            }
        })
    };
    let polled = poll(&host, &worker, &status).await;
    stopper.abort();
    let _ = stopper.await;
    match Arc::try_unwrap(worker) {
        Ok(worker) => worker.finalize_shutdown().await,
        Err(worker) => worker.shutdown().await,
    }
    tracing::info!("temporal worker stopped");
    polled
}

/// The core worker, connected and checked against the namespace, the core
/// runtime it belongs to (kept alive as long as the worker), the namespace
/// and the address.
async fn connect(
    connection: &TemporalConnection,
    config: &TemporalConfig,
    status: &Status,
) -> anyhow::Result<(CoreRuntime, Worker, String, String)> {
    let resolved = connection.resolve()?;
    let mut options = resolved.options;
    options.identity = config.identity.clone().unwrap_or_else(default_identity);
    options.connect_timeout = Some(Duration::from_secs(10));
    let address = resolved.address;
    let connected = Connection::connect(options)
        .await
        .map_err(|error| anyhow::anyhow!("{}", error_chain(&error)))
        .with_context(|| format!("cannot connect to Temporal at {address}"))?;
    status.connected(connected.clone());
    // No process-wide worker heartbeats: they are a newer server feature.
    let runtime_options = RuntimeOptions::builder()
        .heartbeat_interval(None)
        .build()
        .map_err(anyhow::Error::msg)?;
    let runtime = CoreRuntime::new_assume_tokio(runtime_options)?;
    let worker_config = WorkerConfig::builder()
        .namespace(resolved.namespace.clone())
        .task_queue(config.task_queue.clone())
        .task_types(WorkerTaskTypes::activity_only())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: concat!("activity-host@", env!("CARGO_PKG_VERSION")).to_owned(),
        })
        .max_outstanding_activities(config.max_concurrent)
        .build()
        .map_err(anyhow::Error::msg)?;
    let worker = init_worker(&runtime, worker_config, connected)?;
    worker
        .validate()
        .await
        .map_err(|error| anyhow::anyhow!("{}", error_chain(&error)))
        .with_context(|| {
            format!(
                "Temporal at {address} refused namespace `{}`",
                resolved.namespace
            )
        })?;
    Ok((runtime, worker, resolved.namespace, address))
}

/// `error` and its sources, `: `-separated, each once (transport errors
/// hide the cause, such as a refused certificate, in their sources).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Polls until the worker shuts down; each started activity runs in its own
/// task, a cancellation reaches it through its switch in `status`. A polling
/// error ends the worker: it stops taking tasks, lets the running ones
/// finish (core reports the end of polling only then), and returns the
/// error.
async fn poll(host: &Arc<Host>, worker: &Arc<Worker>, status: &Arc<Status>) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    let mut failed = None;
    loop {
        match worker.poll_activity_task().await {
            Ok(task) => {
                while tasks.try_join_next().is_some() {}
                dispatch(host, worker, status, &mut tasks, task);
            }
            Err(PollError::ShutDown) => break,
            Err(error) if failed.is_none() => {
                status.poll_failed();
                tracing::error!(%error, "polling Temporal failed: stopping the worker");
                failed = Some(anyhow::Error::from(error).context("polling Temporal"));
                status.stopping();
                worker.initiate_shutdown();
            }
            Err(error) => {
                status.poll_failed();
                tracing::debug!(%error, "polling Temporal failed again while stopping");
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    failed.map_or(Ok(()), Err)
}

/// Starts or cancels the activity `task` names.
fn dispatch(
    host: &Arc<Host>,
    worker: &Arc<Worker>,
    status: &Arc<Status>,
    tasks: &mut JoinSet<()>,
    task: ActivityTask,
) {
    let token = task.task_token;
    match task.variant {
        Some(activity_task::Variant::Start(start)) => {
            let stopped = status.started(&token);
            let span = tracing::info_span!(
                "temporal",
                workflow_id = start
                    .workflow_execution
                    .as_ref()
                    .map(|w| w.workflow_id.as_str()),
                activity_id = start.activity_id,
                attempt = start.attempt,
            );
            let (host, worker, status) = (host.clone(), worker.clone(), status.clone());
            tasks.spawn(
                async move {
                    let run = activity::run(&host, &worker, &token, &start, stopped);
                    // A panic must still complete the task, or core would
                    // wait for it forever (and so would shutdown).
                    let result = AssertUnwindSafe(run)
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            let message = "the worker panicked running this activity".to_owned();
                            ActivityExecutionResult::fail(failure(Kind::HostError, message, None))
                        });
                    status.ended(&token);
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
            status.stop(&token, Stop::Cancelled(format!("{:?}", cancel.reason())));
        }
        None => tracing::warn!("an activity task without start or cancel: ignored"),
    }
}

/// `activity-host:PID@HOSTNAME`.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!("activity-host:{}@{host}", std::process::id())
}
