//! `activity-host temporal`: a Temporal activity worker, with an optional
//! ops listener (`--listen`: the same routes as `serve`, its readiness and
//! metrics including Temporal's).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::config::Flags;
use crate::recent::Recent;
use crate::server;
use crate::temporal::{self, Status, TemporalConfig, TemporalConnection};

use super::{WorkerArgs, listen_address, shutdown_signal};

/// Arguments of `temporal`. `ACTIVITY_HOST_*` variables stand for flags;
/// the connection's flags also read Temporal's own `TEMPORAL_*` variables.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    worker: WorkerArgs,

    #[command(flatten)]
    connection: TemporalConnection,

    /// The task queue whose activity tasks this worker runs (workflows
    /// schedule their activities on it).
    #[arg(long, env = "ACTIVITY_HOST_TEMPORAL_TASK_QUEUE", value_name = "QUEUE")]
    task_queue: String,

    /// How this worker shows in Temporal [default: activity-host:PID@HOSTNAME].
    #[arg(long, env = "ACTIVITY_HOST_TEMPORAL_IDENTITY", value_name = "NAME")]
    identity: Option<String>,

    /// Most activity tasks this worker runs at once.
    #[arg(
        long,
        env = "ACTIVITY_HOST_MAX_CONCURRENT_ACTIVITIES",
        value_name = "N",
        default_value_t = 100
    )]
    max_concurrent_activities: usize,

    /// On SIGTERM or ctrl-c, how long running activities may go on; then
    /// their guests are stopped and they are reported failed
    /// (`WorkerShutdown`, retried on another worker).
    #[arg(
        long,
        env = "ACTIVITY_HOST_SHUTDOWN_GRACE",
        value_name = "DURATION",
        default_value = "20s",
        value_parser = humantime::parse_duration
    )]
    shutdown_grace: Duration,

    /// Serve the ops listener on this address, `IP:PORT` or `HOST:PORT`:
    /// /healthz, /readyz (Temporal and the store answer), /metrics (with
    /// task slots and poll errors), /ui and the rest of `serve`'s routes.
    #[arg(long, env = "ACTIVITY_HOST_LISTEN", value_name = "ADDR", value_parser = listen_address)]
    listen: Option<SocketAddr>,

    #[command(flatten)]
    token: super::TokenArg,
}

/// Loads the components and runs activity tasks until SIGTERM or ctrl-c
/// (and serves the ops listener meanwhile, with `--listen`).
pub async fn run(args: Args, recent: Arc<Recent>) -> anyhow::Result<ExitCode> {
    let flags = Flags {
        listen: args.listen,
        token: args.token.token,
        ..Flags::default()
    };
    let (config, worker) = args.worker.start(flags, "temporal").await?;
    let status = Arc::new(Status::new(args.max_concurrent_activities));
    let temporal = TemporalConfig {
        task_queue: args.task_queue,
        identity: args.identity,
        max_concurrent: args.max_concurrent_activities,
        shutdown_grace: args.shutdown_grace,
    };
    // The ops listener stops after the worker: it answers (not ready)
    // while running activities finish.
    let (polling_done, ops_stop) = oneshot::channel::<()>();
    let polled = async {
        let polled = temporal::run(
            &worker,
            &args.connection,
            temporal,
            status.clone(),
            shutdown_signal(),
        )
        .await;
        let _ = polling_done.send(());
        polled
    };
    let served = async {
        match args.listen {
            Some(_) => {
                let stop = async {
                    let _ = ops_stop.await;
                };
                let frontend: Arc<dyn server::Frontend> = status.clone();
                server::serve(&worker, config.server, recent, Some(frontend), stop).await
            }
            None => Ok(()),
        }
    };
    let ran = tokio::try_join!(polled, served);
    worker.stop().await;
    ran?;
    Ok(ExitCode::SUCCESS)
}
