//! `activity-host call FILE INVOCATION...`: call exports with WAVE text in one
//! process, so the second identical call shows a cache hit.

use std::process::ExitCode;

use activity_host::wasm_wave;

use super::ComponentArgs;

/// Arguments of `call`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    component: ComponentArgs,

    /// Calls in WAVE syntax, run in order: `fetch-user(123)`,
    /// `send-email("a@example.com")`, `api#calculate(21)`.
    #[arg(required = true, value_name = "INVOCATION")]
    invocations: Vec<String>,
}

/// Runs every invocation; prints one line per invocation on stdout (the result
/// as WAVE, or `()` for a function without results). A failed invocation is
/// reported on stderr and the rest still run; the exit code is then 1.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (host, name) = args.component.load().await?;
    let mut failed = false;
    for invocation in &args.invocations {
        match host.call_wave(&name, invocation).await {
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
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
