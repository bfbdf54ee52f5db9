//! Parsing and resolving the configuration file.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use activity_host::Ttl;

#[test]
fn parses_rules_per_component_and_export() {
    let file = Config::parse(
        r#"
        [cache]
        default-policy = "inputs"

        [components.users.exports.fetch-user]
        policy = "task-source"
        ttl = "250ms"
        cache-errors = true
        ignore-params = ["trace-id"]

        [components.users.exports."api#calculate"]
        ttl = "never"
        "#,
    )
    .unwrap();
    let rules = file.rules();
    assert_eq!(rules.undeclared, Some(CachePolicy::Inputs));
    let users: HashMap<_, _> = rules.overrides("users").collect();
    let fetch = users["fetch-user"];
    assert_eq!(fetch.policy, Some(CachePolicy::TaskSource));
    assert_eq!(fetch.ttl, Some(Ttl::After(Duration::from_millis(250))));
    assert_eq!(fetch.cache_errors, Some(true));
    assert_eq!(
        fetch.ignore_params.as_deref(),
        Some(&["trace-id".to_owned()][..])
    );
    assert_eq!(users["api#calculate"].ttl, Some(Ttl::Never));
}

#[test]
fn unknown_keys_are_named() {
    let error = Config::parse("[components.users.exports.f]\nttl-ms = 5\n").unwrap_err();
    assert!(error.contains("ttl-ms"), "{error}");
    let error = Config::parse("[cache]\ndefault = \"inputs\"\n").unwrap_err();
    assert!(error.contains("default"), "{error}");
    let error = Config::parse("[components.users.exports.f]\nttl = \"soon\"\n").unwrap_err();
    assert!(error.contains("invalid TTL `soon`"), "{error}");
}

#[test]
fn parses_the_store_section() {
    let file = Config::parse(
        r#"
        [store]
        type = "redis"
        url = "redis://127.0.0.1:6390/2"
        prefix = "ah"
        response-timeout = "100ms"
        "#,
    )
    .unwrap();
    let StoreConfig::Redis(redis) = &file.store else {
        panic!("{:?}", file.store)
    };
    assert_eq!(redis.url.as_deref(), Some("redis://127.0.0.1:6390/2"));
    assert_eq!(redis.prefix, "ah");
    assert_eq!(redis.response_timeout, Duration::from_millis(100));
    assert_eq!(redis.connect_timeout, Duration::from_millis(250));
    assert_eq!(Config::parse("").unwrap().store, StoreConfig::default());
    let error = Config::parse(
        "[store]
type = \"redis\"
url = \"redis://x\"
port = 1
",
    )
    .unwrap_err();
    assert!(error.contains("port"), "{error}");
}

#[test]
fn a_redis_store_needs_one_of_url_and_nodes() {
    for text in [
        "[store]\ntype = \"redis\"\n",
        "[store]\ntype = \"redis\"\nurl = \"redis://a\"\nnodes = [\"redis://b\"]\n",
    ] {
        let file = Config::parse(text).unwrap();
        let error = file.store.open().err().expect("rejected").to_string();
        assert!(error.contains("exactly one of `url`"), "{error}");
    }
}

#[test]
fn parses_limits_and_grants() {
    let file = Config::parse(
        r#"
        [components.models]
        max-memory-bytes = 1048576
        dirs = [{ host = "data", guest = "/data" }, { host = "out", guest = "/out", writable = true }]
        env = ["MODEL_NAME"]
        "#,
    )
    .unwrap();
    let models = &file.components["models"];
    assert_eq!(models.limits.max_memory_bytes, 1 << 20);
    assert_eq!(
        models.limits.max_result_bytes,
        Limits::default().max_result_bytes
    );
    let grants = &models.capabilities;
    assert_eq!(grants.env, ["MODEL_NAME"]);
    assert_eq!(grants.dirs.len(), 2);
    assert!(!grants.dirs[0].writable && grants.dirs[1].writable);
    assert_eq!(grants.dirs[1].guest, "/out");
    assert!(grants.stderr && !grants.stdout, "defaults fill in");
    assert_eq!(models.instance_mode(), InstanceMode::Fresh);
    let error =
        Config::parse("[components.m]\ndirs = [{ host = \"a\", guest = \"/a\", mode = \"rw\" }]\n")
            .unwrap_err();
    assert!(error.contains("mode"), "{error}");
}

#[test]
fn named_stores_and_rules_that_use_them() {
    let file = Config::parse(
        r#"
        [stores.shared]
        type = "redis"
        url = "redis://127.0.0.1:1"

        [components.users.exports.fetch-user]
        store = "shared"
        "#,
    )
    .unwrap();
    assert!(matches!(file.stores["shared"], StoreConfig::Redis(_)));
    let rules = file.rules();
    let users: HashMap<_, _> = rules.overrides("users").collect();
    assert_eq!(users["fetch-user"].store.as_deref(), Some("shared"));
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    std::fs::write(&path, "[cache]\nbogus = 1\n").unwrap();
    let error = Config::load(&path).unwrap_err().to_string();
    assert!(
        error.contains("host.toml") && error.contains("bogus"),
        "{error}"
    );
}

#[test]
fn unknown_component_keys_are_named() {
    let error = Config::parse(
        "[components.users]
max-memory = 1
",
    )
    .unwrap_err();
    assert!(
        error.contains("max-memory") && error.contains("[components.users]"),
        "{error}"
    );
}

#[test]
fn flags_replace_the_file_and_defaults_fill_in_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"0.0.0.0:9000\"\ntoken = \"t\"\n\n[components.users]\ninstances = \"warm\"\nmax-uses = 7\n",
    )
    .unwrap();
    let config = Config::resolve(Some(&path), Flags::default()).unwrap();
    assert_eq!(config.server.listen.port(), 9000);
    assert_eq!(config.server.max_body_bytes, 1 << 20, "the default");
    let InstanceMode::Warm(warm) = config.components["users"].instance_mode() else {
        panic!("warm")
    };
    assert_eq!((warm.max_uses, warm.max_instances), (7, 4));

    let flags = Flags {
        store: Some("redis://127.0.0.1:1".parse().unwrap()),
        listen: Some("127.0.0.1:9001".parse().unwrap()),
        call_timeout: Some(Duration::from_secs(2)),
        ..Flags::default()
    };
    let config = Config::resolve(Some(&path), flags).unwrap();
    assert_eq!(config.server.listen.port(), 9001);
    assert_eq!(config.server.call_timeout, Duration::from_secs(2));
    assert_eq!(
        config.server.token.as_deref(),
        Some("t"),
        "kept from the file"
    );
    assert!(matches!(config.store, StoreConfig::Redis(_)));
}

#[test]
fn the_printed_configuration_hides_secrets_and_parses_back() {
    let mut config = Config::parse(
        "[store]\ntype = \"redis\"\nurl = \"redis://u:secret@h:1\"\n\n[server]\ntoken = \"secret\"\n\n[components.users.exports.fetch-user]\nttl = \"10m\"\n",
    )
    .unwrap();
    let text = config.to_redacted_toml();
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("redis://u:***@h:1"), "{text}");
    assert!(text.contains("token = \"(set, hidden)\""), "{text}");
    let printed = Config::parse(&text).unwrap();
    config.server.token = printed.server.token.clone();
    config.store = printed.store.clone();
    assert_eq!(printed.to_redacted_toml(), config.to_redacted_toml());
    assert_eq!(
        printed.components["users"].exports["fetch-user"].ttl,
        Some(Ttl::After(Duration::from_secs(600)))
    );
}

#[test]
fn zero_limits_and_missing_directories_are_refused() {
    for (key, value) in [
        ("timeout", "\"0s\""),
        ("max-memory-bytes", "0"),
        ("max-table-elements", "0"),
        ("outbound-connect-timeout", "\"0s\""),
    ] {
        let error = Config::parse(&format!("[components.users]\n{key} = {value}\n")).unwrap_err();
        assert!(
            error.contains(&format!("[components.users]: {key} must be more than 0")),
            "{error}"
        );
    }
    let error = Config::parse("[limits]\nmax-total-memory-bytes = 0\n").unwrap_err();
    assert!(
        error.contains("[limits]: max-total-memory-bytes must be more than 0"),
        "{error}"
    );
    let budget = Config::parse("[limits]\nmax-total-memory-bytes = 1073741824\n").unwrap();
    assert_eq!(budget.limits.max_total_memory_bytes, Some(1 << 30));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.toml");
    let granted = |host: &str| {
        format!("[components.models]\ndirs = [{{ host = {host:?}, guest = \"/m\" }}]\n")
    };
    std::fs::write(&path, granted("no/such/dir")).unwrap();
    let error = Config::load(&path).unwrap_err().to_string();
    assert!(
        error.contains("[components.models]: granted directory no/such/dir does not exist"),
        "{error}"
    );
    std::fs::write(&path, granted(dir.path().to_str().unwrap())).unwrap();
    assert!(Config::load(&path).is_ok());
}
