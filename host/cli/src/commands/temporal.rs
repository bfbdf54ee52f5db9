//! `activity-host temporal`: a Temporal activity worker.

use std::process::ExitCode;

use crate::config::Flags;
use crate::temporal::{self, TemporalConfig};

use super::{WorkerArgs, shutdown_signal};

/// Arguments of `temporal`. `ACTIVITY_HOST_*` variables stand for flags.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    worker: WorkerArgs,

    /// The Temporal frontend: HOST:PORT (such as 127.0.0.1:7233).
    #[arg(long, env = "ACTIVITY_HOST_TEMPORAL_ADDRESS", value_name = "HOST:PORT")]
    address: String,

    /// The Temporal namespace.
    #[arg(
        long,
        env = "ACTIVITY_HOST_TEMPORAL_NAMESPACE",
        value_name = "NS",
        default_value = "default"
    )]
    namespace: String,

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
}

/// Loads the components and runs activity tasks until SIGTERM or ctrl-c.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (_, worker) = args.worker.start(Flags::default(), "temporal").await?;
    let temporal = TemporalConfig {
        namespace: args.namespace,
        identity: args.identity,
        max_concurrent: args.max_concurrent_activities,
        ..TemporalConfig::new(&args.address, &args.task_queue)
    };
    let polled = temporal::run(&worker, temporal, shutdown_signal()).await;
    worker.stop().await;
    polled?;
    Ok(ExitCode::SUCCESS)
}
