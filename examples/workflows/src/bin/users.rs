//! Seed 004's `UserWorkflow`, run as two workflow executions with the same
//! input: the second one's activities are cache hits ("Cache HIT! Activity
//! skipped"), except `send-email`, which is never cached.
//!
//! `users [STORE]`: STORE is `memory` (default) or any `--store` value of
//! `activity-host`, such as `redis://127.0.0.1:6379` to share the cache with
//! other workers.

use activity_host::{Host, StoreConfig, Val};
use workflows::{component_file, show_host_log, step, verdict, wave};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    show_host_log();
    let store = std::env::args().nth(1).unwrap_or_else(|| "memory".into());
    let store: StoreConfig = store.parse().map_err(anyhow::Error::msg)?;
    let host = Host::builder().store(store.open()?).build()?;
    host.load_file("users", component_file("users")).await?;

    for execution in ["workflow-1", "workflow-2"] {
        step(&format!("{execution}: UserWorkflow(123)"));
        user_workflow(&host, 123).await?;
    }
    Ok(())
}

/// fetch-user, then process-data on its result, then calculate and
/// send-email, printing what the cache did for each activity.
async fn user_workflow(host: &Host, user_id: u64) -> anyhow::Result<()> {
    let user = host
        .call("users", "fetch-user", &[Val::U64(user_id)])
        .await?;
    println!("fetch-user({user_id}): {}", verdict(&user));
    let processed = host.call("users", "process-data", &user.results).await?;
    println!("process-data(user): {}", verdict(&processed));
    let calculated = host.call("users", "calculate", &[Val::S64(21)]).await?;
    println!("calculate(21): {}", verdict(&calculated));
    let to = Val::String(format!("user{user_id}@example.com"));
    let sent = host.call("users", "send-email", &[to]).await?;
    println!("send-email: {}", verdict(&sent));
    println!("result: {}", wave(&processed));
    Ok(())
}
