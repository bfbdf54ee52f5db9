//! `activity-host call FILE INVOCATION...`: call exports with WAVE text in one
//! process, so the second identical call shows a cache hit.

use std::borrow::Cow;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use activity_host::{CallOptions, wasm_wave};
use anyhow::Context;
use serde_json::Value;

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

    /// Don't print the summary of cache counters.
    #[arg(long, short)]
    quiet: bool,

    /// Read the arguments of one call from FILE (`-`: standard input), for
    /// arguments too large for a command line; INVOCATION is then the
    /// export's name alone. JSON (an array, one element per parameter) if
    /// FILE ends in `.json`, else WAVE (what goes between the parentheses:
    /// `123, "x"`); --args-format says otherwise.
    #[arg(long, value_name = "FILE")]
    args_file: Option<PathBuf>,

    /// How --args-file is written.
    #[arg(long, value_name = "FORMAT", requires = "args_file")]
    args_format: Option<ArgsFormat>,

    /// Calls in WAVE syntax, run in order: `fetch-user(123)`,
    /// `send-email("a@example.com")`, `api#calculate(21)`.
    #[arg(required = true, value_name = "INVOCATION")]
    invocations: Vec<String>,
}

/// How an arguments file is written.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ArgsFormat {
    /// A JSON array, one element per parameter.
    Json,
    /// WAVE values separated by commas.
    Wave,
}

/// One call as given: WAVE text, or an export and JSON arguments.
enum Invocation {
    Wave(String),
    Json { export: String, args: Value },
}

impl Invocation {
    /// How messages name it: a long invocation by its function's name
    /// (its error quotes the start of it already).
    fn label(&self) -> Cow<'_, str> {
        match self {
            Self::Wave(text) if text.len() > 80 => {
                let name = text.split('(').next().unwrap_or(text);
                Cow::Owned(format!("{name}(…)"))
            }
            Self::Wave(text) => Cow::Borrowed(text),
            Self::Json { export, .. } => Cow::Borrowed(export),
        }
    }
}

impl Args {
    /// The calls to make: the WAVE invocations, or one call of the export
    /// named with its arguments from --args-file.
    fn calls(&self) -> anyhow::Result<Vec<Invocation>> {
        let Some(file) = &self.args_file else {
            return Ok(self
                .invocations
                .iter()
                .cloned()
                .map(Invocation::Wave)
                .collect());
        };
        let [export] = self.invocations.as_slice() else {
            anyhow::bail!(
                "with --args-file, give the export's name alone (e.g. `fetch-user`), not {} invocations",
                self.invocations.len()
            );
        };
        let text = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the arguments from standard input")?;
            text
        } else {
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the arguments file {}", file.display()))?
        };
        let json = match self.args_format {
            Some(format) => format == ArgsFormat::Json,
            None => file.extension().is_some_and(|ext| ext == "json"),
        };
        if json {
            let args = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            Ok(vec![Invocation::Json {
                export: export.clone(),
                args,
            }])
        } else {
            Ok(vec![Invocation::Wave(format!("{export}({})", text.trim()))])
        }
    }
}

/// Runs every invocation; prints one line per invocation on stdout (the result
/// as WAVE, or `()` for a function without results), then a summary of the
/// cache counters on stderr. A failed invocation is reported on stderr and the
/// rest still run; the exit code is then 1.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let calls = args.calls()?;
    if let Some(client) = args.worker.client() {
        let name = args.component.file.display().to_string();
        let (refresh, explain) = (args.refresh, args.explain);
        return tokio::task::spawn_blocking(move || {
            call_all(&client, &name, &calls, refresh, explain)
        })
        .await?;
    }
    let (host, name) = args.component.load().await?;
    if args.explain {
        return explain_all(&host, &name, &calls).await;
    }
    let options = CallOptions::default().with_refresh(args.refresh);
    let mut failed = false;
    for call in &calls {
        let called = match call {
            Invocation::Wave(text) => host.call_wave_with(&name, text, options).await,
            Invocation::Json { export, args } => host.call_json(&name, export, args, options).await,
        };
        match called {
            Ok(report) => match report.results() {
                [] => println!("()"),
                results => {
                    for value in results {
                        println!("{}", wasm_wave::wasm::DisplayValue(value));
                    }
                }
            },
            Err(error) => {
                eprintln!("error: {}: {error}", call.label());
                failed = true;
            }
        }
    }
    // stdout carries the results: this process's counters go to stderr,
    // unless a call failed (its error is the last thing to read).
    if !failed && !args.quiet {
        eprint!("{}", stats_table(&host.stats()));
    }
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
    calls: &[Invocation],
    refresh: bool,
    explain: bool,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for call in calls {
        let path = format!("/v1/components/{component}/call?refresh={refresh}&explain={explain}");
        let body = match call {
            Invocation::Wave(text) => serde_json::json!({ "wave": text }),
            Invocation::Json { export, args } => {
                serde_json::json!({ "export": export, "args": args })
            }
        };
        let answer = client.send("POST", &path, Some(&body))?;
        let invocation = call.label();
        if answer.status.is_success() && explain {
            print_explanation(&invocation, &answer.body["explain"]);
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
    calls: &[Invocation],
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for call in calls {
        let explained = match call {
            Invocation::Wave(text) => host.explain_wave(name, text).await,
            Invocation::Json { export, args } => host.explain_json(name, export, args).await,
        };
        match explained {
            Ok(explanation) => {
                print_explanation(&call.label(), &serde_json::to_value(explanation)?)
            }
            Err(error) => {
                eprintln!("error: {}: {error}", call.label());
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
