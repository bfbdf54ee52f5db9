//! `activity-host invalidate FILE …`: remove cached results from a store
//! that outlives the process (Redis).

use std::process::ExitCode;

use super::ComponentArgs;

/// Arguments of `invalidate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    component: ComponentArgs,

    /// Invalidate every entry of this export (O(1)). Repeatable.
    #[arg(long = "export", value_name = "EXPORT")]
    exports: Vec<String>,

    /// Invalidate every entry of the component (O(1)).
    #[arg(long)]
    all: bool,

    /// Invalidate the entry of these calls, in WAVE syntax as for `call`
    /// (arguments may be written in any equivalent way).
    #[arg(value_name = "INVOCATION")]
    invocations: Vec<String>,
}

/// Invalidates what was asked and says what it did on stdout.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.invocations.is_empty() && args.exports.is_empty() && !args.all {
        anyhow::bail!("nothing to invalidate: give INVOCATIONs, --export EXPORT or --all");
    }
    let (host, name) = args.component.load().await?;
    if args.all {
        host.invalidate_component(&name).await?;
        println!("invalidated every entry of component {name}");
    }
    for export in &args.exports {
        host.invalidate_export(&name, export).await?;
        println!("invalidated every entry of {name} {export}");
    }
    for invocation in &args.invocations {
        let key = host.invalidate_entry_wave(&name, invocation).await?;
        println!("invalidated {name} {invocation} (key {key})");
    }
    Ok(ExitCode::SUCCESS)
}
