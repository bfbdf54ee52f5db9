//! `activity-host inspect FILE`: what a component exports and how each
//! export is cached.

use std::process::ExitCode;

use super::ComponentArgs;

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    component: ComponentArgs,
}

/// Prints the component's code hash, then each export with its signature and rule.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (host, name) = args.component.load().await?;
    let component = host.component(&name).expect("just loaded");
    println!("component {name}");
    println!("  file    {}", args.component.file.display());
    println!("  sha256  {}", component.code_hash_hex());
    if component.purity.imports.is_empty() {
        println!("  imports (none)");
    } else {
        println!("  imports {}", component.purity.imports.join(", "));
    }
    if component.purity.is_pure() {
        println!("  purity  reaches no clock, randomness, network, writable file or environment");
    } else {
        println!(
            "  purity  can reach {}: a cached result may depend on more than its arguments",
            component.purity.reaches_text()
        );
    }
    println!("  exports");
    for export in &component.exports {
        println!("    {}", export.path);
        println!("      {}", export.signature);
        println!("      cache: {}", export.rule);
    }
    Ok(ExitCode::SUCCESS)
}
