//! `activity-host call FILE INVOCATION...`: call exports with WAVE text in one
//! process, so the second identical call shows a cache hit.

use std::process::ExitCode;

use activity_host::{CallOptions, wasm_wave};

use super::worker_client::{WorkerArgs, WorkerClient};
use super::{ComponentArgs, stats_table};

/// Arguments of `call`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    component: ComponentArgs,

    /// Run every invocation even if its result is cached, and overwrite the
    /// cached entry.
    #[arg(long)]
    refresh: bool,

    /// Run nothing: print what each invocation would do (the parts of its
    /// cache key, its rule, and what the store holds for it and why).
    #[arg(long, conflicts_with = "refresh")]
    explain: bool,

    /// With --worker, the invocations run on that worker, and FILE is the
    /// component's name there.
    #[command(flatten)]
    worker: WorkerArgs,

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
    if let Some(client) = args.worker.client() {
        let name = args.component.file.display().to_string();
        let (invocations, refresh) = (args.invocations.clone(), args.refresh);
        let explain = args.explain;
        return tokio::task::spawn_blocking(move || {
            call_all(&client, &name, &invocations, refresh, explain)
        })
        .await?;
    }
    let (host, name) = args.component.load().await?;
    if args.explain {
        return explain_all(&host, &name, &args.invocations).await;
    }
    let options = CallOptions::default().with_refresh(args.refresh);
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
    // stdout carries the results: this process's counters go to stderr.
    eprint!("{}", stats_table(&host.stats()));
    if let Err(error) = host.flush_stats().await {
        tracing::warn!(%error, "counters not added to the store's shared counters");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs each invocation on the worker; prints results like a local call
/// and the worker's `x-cache` outcome on stderr.
fn call_all(
    client: &WorkerClient,
    component: &str,
    invocations: &[String],
    refresh: bool,
    explain: bool,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for invocation in invocations {
        let path = format!("/v1/components/{component}/call?refresh={refresh}&explain={explain}");
        let body = serde_json::json!({ "wave": invocation });
        let answer = client.send("POST", &path, Some(&body))?;
        if answer.status.is_success() && explain {
            print_explanation(invocation, &answer.body["explain"]);
        } else if answer.status.is_success() {
            println!("{}", answer.body["wave"].as_str().unwrap_or("()"));
            eprintln!("{invocation}: {}", answer.outcome);
        } else {
            eprintln!("error: {invocation}: {}", answer.error());
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints what each invocation would do; the exit code is 1 if one cannot
/// be explained (an unknown export, arguments that do not fit).
async fn explain_all(
    host: &activity_host::Host,
    name: &str,
    invocations: &[String],
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for invocation in invocations {
        match host.explain_wave(name, invocation).await {
            Ok(explanation) => print_explanation(invocation, &serde_json::to_value(explanation)?),
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

/// Prints an explanation (the JSON form the worker answers) for people.
fn print_explanation(invocation: &str, explanation: &serde_json::Value) {
    let text = |field: &str| explanation[field].as_str().unwrap_or("-").to_owned();
    let verdict = match (text("outcome").as_str(), explanation["reason"].as_str()) {
        ("hit", _) => format!(
            "hit: stored {} ms ago, the body would not run",
            explanation["age_ms"]
        ),
        ("miss", Some(reason)) => {
            format!("miss ({reason}): the body would run and its result be stored")
        }
        ("degraded", _) => format!(
            "degraded: the store failed ({}): the body would run uncached",
            text("store_error")
        ),
        _ => "bypass: not cached by its rule, the body would run".to_owned(),
    };
    println!("{invocation}: {verdict}");
    println!("  component  {}", text("component"));
    println!("  export     {}: {}", text("export"), text("signature"));
    println!("  rule       {}", text("rule"));
    println!("  store      {}", text("store"));
    if explanation["key"].is_string() {
        println!("  key        {}", text("key"));
        println!(
            "    = sha256(\"activity-host/key/v1\" | component | export | signature {} | code {} | arguments {})",
            text("signature_hash"),
            explanation["code_hash"]
                .as_str()
                .unwrap_or("(inputs: not keyed)"),
            text("arguments_digest"),
        );
    }
}
