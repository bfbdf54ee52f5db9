//! `activity-host serve`: the long-lived HTTP worker.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Flags;
use crate::recent::Recent;
use crate::server;

use super::{WorkerArgs, shutdown_signal};

/// Arguments of `serve`. Each flag overrides the config file's `[server]`
/// table; `ACTIVITY_HOST_*` variables stand for flags.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    worker: WorkerArgs,

    /// Address to listen on, `IP:PORT` or `HOST:PORT` (e.g.
    /// `localhost:8080`) [default: 127.0.0.1:8080, this machine only].
    #[arg(long, env = "ACTIVITY_HOST_LISTEN", value_name = "ADDR", value_parser = super::listen_address)]
    listen: Option<SocketAddr>,

    #[command(flatten)]
    token: super::TokenArg,

    /// Largest request body accepted, in bytes [default: 1048576].
    #[arg(long, env = "ACTIVITY_HOST_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,

    /// Longest a call may take before the worker answers 504 [default: 30s].
    #[arg(long, env = "ACTIVITY_HOST_CALL_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    call_timeout: Option<Duration>,
}

/// Loads the components and serves until SIGTERM or ctrl-c.
pub async fn run(args: Args, recent: Arc<Recent>) -> anyhow::Result<ExitCode> {
    let flags = Flags {
        listen: args.listen,
        token: args.token.token,
        max_body_bytes: args.max_body_bytes,
        call_timeout: args.call_timeout,
        ..Flags::default()
    };
    let (config, worker) = args.worker.start(flags, "http").await?;
    let served = server::serve(&worker, config.server, recent, None, shutdown_signal()).await;
    worker.stop().await;
    served?;
    Ok(ExitCode::SUCCESS)
}
