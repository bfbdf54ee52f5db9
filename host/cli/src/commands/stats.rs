//! `activity-host stats`: the counters a shared store (Redis) keeps for
//! every worker that uses it.

use std::process::ExitCode;

use activity_host::Host;

use super::{StoreArgs, stats_table};
use crate::config::Flags;
use crate::server::stats_json;

/// Arguments of `stats`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,

    /// Print the counters as JSON (an array of objects, one per export, as
    /// `GET /v1/stats` answers) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints the store's counters per export on stdout, as a table or JSON.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.store.resolve(Flags::default())?;
    let host = Host::builder().store(config.store.open()?).build()?;
    match host.shared_stats().await? {
        Some(rows) => {
            if args.json {
                println!("{}", stats_json(&rows));
            } else {
                print!("{}", stats_table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => anyhow::bail!(
            "the memory store keeps no counters beyond one process; use --store redis://… \
             (each `call` prints its own counters)"
        ),
    }
}
