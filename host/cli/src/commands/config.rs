//! `activity-host config check`: validate the configuration and print it as
//! the worker would resolve it, defaults filled in.

use std::process::ExitCode;

use crate::config::Flags;

use super::StoreArgs;

/// `config` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check the configuration file (unknown keys, bad values) and print the
    /// resolved configuration, with `--store` / `ACTIVITY_HOST_STORE` applied.
    Check(StoreArgs),
}

/// Runs a `config` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Check(args) = command;
    let config = args.resolve(Flags::default())?;
    let source = args
        .config
        .as_ref()
        .map_or("none".to_owned(), |p| p.display().to_string());
    println!("# resolved configuration (file: {source}); secrets hidden");
    print!("{}", config.to_redacted_toml());
    Ok(ExitCode::SUCCESS)
}
