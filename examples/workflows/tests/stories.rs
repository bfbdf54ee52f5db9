//! Each workflow driver's story, run as the real binary on the real
//! components: values, how often each guest body ran, and the host's log.

#[allow(dead_code)] // this test uses only part of the shared helper
#[path = "../../../tests/support/redis.rs"]
mod redis;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// What a driver printed.
struct Story {
    stdout: String,
    stderr: String,
}

impl Story {
    /// How many guest lines say `line` (guest bodies write to stderr).
    fn ran(&self, line: &str) -> usize {
        self.stderr.lines().filter(|l| *l == line).count()
    }

    /// The host's log lines about `export` with `outcome`.
    fn logged(&self, export: &str, outcome: &str) -> usize {
        let (export, outcome) = (
            format!("export={export} "),
            format!("outcome=\"{outcome}\""),
        );
        self.stdout
            .lines()
            .filter(|l| l.contains(&export) && l.contains(&outcome))
            .count()
    }
}

fn run(driver: &str, args: &[&str]) -> Story {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(root.join("scripts/build-guests.sh"))
            .args(["add-five", "inference", "users"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run scripts/build-guests.sh");
        assert!(status.success(), "scripts/build-guests.sh failed");
    });
    let binary = match driver {
        "add-five" => env!("CARGO_BIN_EXE_add-five"),
        "inference" => env!("CARGO_BIN_EXE_inference"),
        "users" => env!("CARGO_BIN_EXE_users"),
        other => panic!("no driver {other}"),
    };
    let output = Command::new(binary).args(args).output().unwrap();
    let story = Story {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(
        output.status.success(),
        "{driver} failed:\n{}\n{}",
        story.stdout,
        story.stderr
    );
    story
}

#[test]
fn add_five_runs_each_helper_once_per_replica() {
    let story = run("add-five", &["10"]);
    // 10 + 4 × (34 + 12 + 1)
    assert!(
        story.stdout.contains("add_five(10) = 198"),
        "{}",
        story.stdout
    );
    for helper in ["load-data", "load-directory", "get-value"] {
        assert_eq!(story.ran(&format!("add-five: ran {helper}")), 1, "{helper}");
        let export = format!("actor-cache/{helper}");
        assert_eq!(story.logged(&export, "miss"), 1, "{helper}");
        assert_eq!(story.logged(&export, "hit"), 3, "{helper}");
    }
    assert_eq!(story.logged("add-file", "bypass"), 4);
}

#[test]
fn inference_loads_the_model_once_even_when_tasks_race() {
    let story = run("inference", &[]);
    assert!(
        story
            .stdout
            .contains(r#"["Model loaded from models/a inference on x", "Model loaded from models/a inference on y"]"#),
        "{}",
        story.stdout
    );
    assert!(
        story
            .stdout
            .contains(r#"["Model loaded from models/b inference on z"]"#)
    );
    assert_eq!(
        story.ran("inference: ran load"),
        2,
        "once per model directory"
    );
    assert_eq!(story.logged("actor-cache/load", "miss"), 2);
    assert_eq!(story.logged("actor-cache/load", "hit"), 2);
    assert!(
        story
            .stdout
            .contains("waited for another instance computing it"),
        "the racing task waited for the load: {}",
        story.stdout
    );
}

#[test]
fn users_second_workflow_execution_is_served_from_the_cache() {
    let story = run("users", &[]);
    assert_eq!(story.ran("users: ran fetch-user"), 1);
    assert_eq!(story.ran("users: ran process-data"), 1);
    assert_eq!(story.ran("users: ran calculate"), 1);
    assert_eq!(
        story.ran("users: ran send-email to 19 bytes"),
        2,
        "never cached"
    );
    assert_eq!(
        story.stdout.matches("Cache HIT! Activity skipped").count(),
        3
    );
    assert_eq!(
        story
            .stdout
            .matches(r#"result: {processed: true, user: "User 123"}"#)
            .count(),
        2
    );
}

#[test]
fn users_workers_share_results_through_redis() {
    let server = redis::RedisServer::start();
    let url = server.url();
    let first = run("users", &[&url]);
    let second = run("users", &[&url]);
    assert_eq!(first.ran("users: ran fetch-user"), 1);
    assert_eq!(
        second.ran("users: ran fetch-user"),
        0,
        "the other worker's result"
    );
    assert_eq!(
        second.stdout.matches("Cache HIT! Activity skipped").count(),
        6
    );
}
