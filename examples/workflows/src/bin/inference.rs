//! Seed 000's model preloading: `load-model-task` loads the model into the
//! replica's actor cache, so `run-inference` finds it loaded; then both run
//! at the same time on a fresh model directory, and the model still loads
//! once (the second instance waits for the first one's load).

use std::time::Instant;

use activity_host::Host;
use workflows::{component_file, show_host_log, step, wave};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    show_host_log();
    let host = Host::builder().build()?;
    host.load_file("inference", component_file("inference"))
        .await?;

    step("load-model-task, then run-inference: the model is already loaded");
    let started = Instant::now();
    host.call_wave("inference", r#"load-model-task("models/a")"#)
        .await?;
    println!("load-model-task took {:?}", started.elapsed());
    let started = Instant::now();
    let run = host
        .call_wave("inference", r#"run-inference("models/a", ["x", "y"])"#)
        .await?;
    println!("run-inference took {:?}: {}", started.elapsed(), wave(&run));

    step("both at once on another model: one load, the other instance waits for it");
    let started = Instant::now();
    let (load, run) = tokio::join!(
        host.call_wave("inference", r#"load-model-task("models/b")"#),
        host.call_wave("inference", r#"run-inference("models/b", ["z"])"#),
    );
    load?;
    println!("both done in {:?}: {}", started.elapsed(), wave(&run?));
    Ok(())
}
