//! `activity-host serve`: the long-lived HTTP worker.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::server::{self, ServerConfig};

use super::{ComponentSources, EngineArgs, StoreArgs, host_builder, shutdown_signal};

/// Arguments of `serve`. Each flag overrides the config file's `[server]`
/// table; `ACTIVITY_HOST_*` variables stand for flags.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,

    #[command(flatten)]
    engine: EngineArgs,

    #[command(flatten)]
    components: ComponentSources,

    /// Address to listen on [default: 127.0.0.1:8080, this machine only].
    #[arg(long, env = "ACTIVITY_HOST_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// Require `Authorization: Bearer TOKEN` on every route but /healthz.
    #[arg(
        long,
        env = "ACTIVITY_HOST_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Largest request body accepted, in bytes [default: 1048576].
    #[arg(long, env = "ACTIVITY_HOST_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,

    /// Longest a call may take before the worker answers 504 [default: 30s].
    #[arg(long, env = "ACTIVITY_HOST_CALL_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    call_timeout: Option<Duration>,
}

/// Loads the components and serves until SIGTERM or ctrl-c.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (file, store) = args.store.open()?;
    let section = &file.server;
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        listen: args.listen.or(section.listen).unwrap_or(defaults.listen),
        token: args.token.or_else(|| section.token.clone()),
        max_body_bytes: args
            .max_body_bytes
            .or(section.max_body_bytes)
            .unwrap_or(defaults.max_body_bytes),
        call_timeout: args
            .call_timeout
            .or(section.call_timeout)
            .unwrap_or(defaults.call_timeout),
        ..defaults
    };
    let sources = args.components.sources(&file)?;
    let host = Arc::new(host_builder(&file, &args.engine, file.rules(), store)?.build()?);
    let catalog = Arc::new(Catalog::new(sources));
    if catalog.refresh(&host).await == 0 {
        anyhow::bail!("no component could be loaded (see the errors above)");
    }
    server::serve(host, catalog, config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
