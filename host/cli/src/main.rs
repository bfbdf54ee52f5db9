//! The `activity-host` command: inspect and call activity components, and
//! run them as long-lived workers.
//!
//! | module | what it is |
//! |---|---|
//! | `commands` | one module per subcommand, and the argument groups they share |
//! | `config` | the configuration file (`--config`) |
//! | `catalog` | the components a worker serves, reloaded when their files change |
//! | `server` | the HTTP worker (`serve`) |
//! | `telemetry` | where logs and traces go (`--log-format`, `--otlp-endpoint`) |
//! | `temporal` | the Temporal worker (`temporal`) |
//! | `worker` | the start and stop `serve` and `temporal` share |
//!
//! Everything about running and caching a call is in the `activity-host`
//! library (`host/core`); these modules only turn requests into its calls.

mod catalog;
mod commands;
mod config;
mod recent;
mod server;
mod telemetry;
mod temporal;
mod worker;

use clap::{Parser, Subcommand};

/// Runs activities compiled to WebAssembly components and memoizes their
/// exported calls.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    telemetry: telemetry::TelemetryArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List a component's exported functions, their WIT signatures and the
    /// cache rule that applies to each.
    Inspect(commands::inspect::Args),
    /// Call exports of a component, written as WAVE text, in one process;
    /// print each result as WAVE on stdout.
    Call(commands::call::Args),
    /// Invalidate cached results: one call's entry, every entry of an export,
    /// or every entry of the component (useful with a shared store).
    Invalidate(commands::invalidate::Args),
    /// List the entries a store holds (key, export, bytes, age, TTL left,
    /// hits), of a worker (--worker) or a shared store (--store); or evict
    /// one by its key.
    Entries(commands::entries::Args),
    /// Print the counters per export that a shared store (Redis) keeps for
    /// every worker: hits, misses, bypasses, degraded, errors, waits, bytes.
    Stats(commands::stats::Args),
    /// Run the HTTP worker: serve the components of a directory (or files),
    /// reload them when they change, expose stats, metrics and health.
    Serve(commands::serve::Args),
    /// Run a Temporal activity worker: every loaded export is an activity
    /// type that workflows (in any Temporal SDK) call by name, memoized like
    /// every other call.
    Temporal(Box<commands::temporal::Args>),
    /// Configuration tools.
    #[command(subcommand)]
    Config(commands::config::Command),
    /// Create an activity project (Rust, Python or JavaScript) in a new
    /// directory: a WIT world, a cached and an uncached export, a build
    /// script and a README.
    New(commands::new::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Inside the runtime: a gRPC exporter's connection runs on it.
    let entered = runtime.enter();
    let telemetry = match telemetry::Telemetry::init(&cli.telemetry) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Inspect(args) => commands::inspect::run(args).await,
            Command::Call(args) => commands::call::run(args).await,
            Command::Invalidate(args) => commands::invalidate::run(args).await,
            Command::Stats(args) => commands::stats::run(args).await,
            Command::Entries(args) => commands::entries::run(args).await,
            Command::Serve(args) => commands::serve::run(args, telemetry.recent()).await,
            Command::Temporal(args) => commands::temporal::run(*args, telemetry.recent()).await,
            Command::Config(command) => commands::config::run(command),
            Command::New(args) => commands::new::run(args),
        }
    });
    telemetry.shutdown();
    drop(entered);
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
