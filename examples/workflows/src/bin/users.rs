//! Seed 004's `UserWorkflow`, run as two workflow executions with the same
//! input: the second one's activities are cache hits ("Cache HIT! Activity
//! skipped"), except `send-email`, which is never cached.
//!
//! `users [STORE]`: STORE is `memory` (default) or any `--store` value of
//! `activity-host`, such as `redis://127.0.0.1:6379` to share the cache with
//! other workers.
//!
//! With `USERS_SERVICE_URL` set (`scripts/example.sh users` starts
//! `examples/users-service` and sets it), the component is granted that
//! service and the `API_TOKEN` secret (from `USERS_API_TOKEN`) through the
//! builder, so `fetch-user` and `send-email` call it; otherwise they run
//! offline.

use std::collections::BTreeMap;

use activity_host::{
    Capabilities, Host, HostBuilder, OutboundGrant, SecretGrant, StoreConfig, Val,
};
use workflows::{component_file, show_host_log, step, verdict, wave};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    show_host_log();
    let store = std::env::args().nth(1).unwrap_or_else(|| "memory".into());
    let store: StoreConfig = store.parse().map_err(anyhow::Error::msg)?;
    let host = grant_users_service(Host::builder().store(store.open()?))?.build()?;
    host.load_file("users", component_file("users")).await?;

    for execution in ["workflow-1", "workflow-2"] {
        step(&format!("{execution}: UserWorkflow(123)"));
        user_workflow(&host, 123).await?;
    }
    Ok(())
}

/// `builder` with the users component granted the users service at
/// `USERS_SERVICE_URL`, if set: the variable itself, the host, and the
/// `API_TOKEN` secret for it.
fn grant_users_service(builder: HostBuilder) -> anyhow::Result<HostBuilder> {
    let Ok(service) = std::env::var("USERS_SERVICE_URL") else {
        return Ok(builder);
    };
    let host: OutboundGrant = service.trim_end_matches('/').parse()?;
    let secret = SecretGrant {
        env: "USERS_API_TOKEN".into(),
        hosts: vec![host.clone()],
    };
    let capabilities = Capabilities {
        env: vec!["USERS_SERVICE_URL".into()],
        allowed_outbound_hosts: vec![host],
        secrets: BTreeMap::from([("API_TOKEN".to_owned(), secret)]),
        ..Capabilities::default()
    };
    Ok(builder.capabilities("users", capabilities))
}

/// fetch-user, then process-data on its result, then calculate and
/// send-email, printing what the cache did for each activity.
async fn user_workflow(host: &Host, user_id: u64) -> anyhow::Result<()> {
    let user = host
        .call("users", "fetch-user", &[Val::U64(user_id)])
        .await?;
    println!("fetch-user({user_id}): {}", verdict(&user));
    let processed = host.call("users", "process-data", user.results()).await?;
    println!("process-data(user): {}", verdict(&processed));
    let calculated = host.call("users", "calculate", &[Val::S64(21)]).await?;
    println!("calculate(21): {}", verdict(&calculated));
    let to = Val::String(format!("user{user_id}@example.com"));
    let sent = host.call("users", "send-email", &[to]).await?;
    println!("send-email: {}", verdict(&sent));
    println!("result: {}", wave(&processed));
    Ok(())
}
