//! `activity-host call FILE INVOCATION...`: call exports with WAVE text in one
//! process, so the second identical call shows a cache hit.

use std::process::ExitCode;

use activity_host::{CallOptions, wasm_wave};

use super::{ComponentArgs, print_stats};

/// Arguments of `call`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    component: ComponentArgs,

    /// Run every invocation even if its result is cached, and overwrite the
    /// cached entry.
    #[arg(long)]
    refresh: bool,

    /// Calls in WAVE syntax, run in order: `fetch-user(123)`,
    /// `send-email("a@example.com")`, `api#calculate(21)`.
    #[arg(required = true, value_name = "INVOCATION")]
    invocations: Vec<String>,
}

/// Runs every invocation; prints one line per invocation on stdout (the result
/// as WAVE, or `()` for a function without results), then a summary of the
/// cache counters on stderr. A failed invocation is reported on stderr and the
/// rest still run; the exit code is then 1.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (host, name) = args.component.load().await?;
    let options = CallOptions {
        refresh: args.refresh,
    };
    let mut failed = false;
    for invocation in &args.invocations {
        match host.call_wave_with(&name, invocation, options).await {
            Ok(report) => match report.results.as_slice() {
                [] => println!("()"),
                results => {
                    for value in results {
                        println!("{}", wasm_wave::wasm::DisplayValue(value));
                    }
                }
            },
            Err(error) => {
                eprintln!("error: {invocation}: {error}");
                failed = true;
            }
        }
    }
    print_stats(&host.stats());
    if let Err(error) = host.flush_stats().await {
        tracing::warn!(%error, "counters not added to the store's shared counters");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
