//! `activity-host stats`: the counters a shared store (Redis) keeps for
//! every worker that uses it.

use std::process::ExitCode;

use activity_host::Host;

use super::{StoreArgs, print_stats};
use crate::config::Flags;

/// Arguments of `stats`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
}

/// Prints the store's counters per export, as a table on stderr.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.store.resolve(Flags::default())?;
    let host = Host::builder().store(config.store.open()?).build()?;
    match host.shared_stats().await? {
        Some(rows) => {
            print_stats(&rows);
            Ok(ExitCode::SUCCESS)
        }
        None => anyhow::bail!(
            "the memory store keeps no counters beyond one process; use --store redis://… \
             (each `call` prints its own counters)"
        ),
    }
}
