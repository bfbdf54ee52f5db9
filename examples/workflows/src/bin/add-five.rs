//! Seed 000's `add_five` workflow: `create-file` and `create-directory`
//! write into a directory granted to the guest, then `add-file` runs four
//! times; its helpers `load-data`, `load-directory` and `get-value` (a
//! custom key object) each run once on this replica.

use activity_host::{Capabilities, DirGrant, Host, InstanceMode, Val, WarmConfig};
use workflows::{component_file, show_host_log, step, wave};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    show_host_log();
    let num: i64 = std::env::args().nth(1).map_or(Ok(10), |n| n.parse())?;
    let data = tempfile::tempdir()?;
    let grant = DirGrant {
        host: data.path().to_owned(),
        guest: "/data".into(),
        writable: true,
    };
    let host = Host::builder()
        .capabilities(
            "add-five",
            Capabilities {
                dirs: vec![grant],
                ..Capabilities::default()
            },
        )
        // The seed's `@actor.task`: warm instances, like an actor's replica.
        .instance_mode("add-five", InstanceMode::Warm(WarmConfig::default()))
        .build()?;
    host.load_file("add-five", component_file("add-five"))
        .await?;

    step("create-file and create-directory (cached tasks)");
    let file = host.call_wave("add-five", "create-file()").await?;
    let dir = host.call_wave("add-five", "create-directory()").await?;
    println!("file = {}, dir = {}", wave(&file), wave(&dir));

    step(&format!(
        "add_five({num}): add-file four times; each helper body runs once"
    ));
    let mut result = Val::S64(num);
    for round in 1..=4 {
        let args = [result, file.results()[0].clone(), dir.results()[0].clone()];
        let report = host.call("add-five", "add-file", &args).await?;
        let Some(Val::Result(Ok(Some(value)))) = report.results().first() else {
            anyhow::bail!("add-file failed: {}", wave(&report));
        };
        result = (**value).clone();
        println!("add-file round {round} = {}", workflows::wave_of(&result));
    }
    println!("\nadd_five({num}) = {}", workflows::wave_of(&result));
    Ok(())
}
