//! The worker's page (`/ui`): in a real headless chromium (live calls,
//! invalidate and evict buttons, charts), and over plain HTTP (what reads
//! with JavaScript off, the token's login, refused cross-site forms).

use crate::support;

use std::time::Duration;

use serde_json::Value;
use support::browser::Browser;
use support::guest;
use support::worker::Worker;

/// A directory with the users and typed components.
fn components() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["users.wasm", "typed.wasm"] {
        std::fs::copy(guest(file), dir.path().join(file)).unwrap();
    }
    dir
}

const FETCH_USER: &str = r##"tr.export[data-export$="#fetch-user"]"##;

/// Waits until the page's live list is connected (its EventSource open).
fn wait_until_live(browser: &Browser) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while browser.run("return document.documentElement.dataset.live || ''") != "on" {
        assert!(
            std::time::Instant::now() < deadline,
            "the live list did not connect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_page_shows_calls_live_and_its_buttons_invalidate_and_evict() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    let browser = Browser::start();
    browser.open(&format!("{}/ui", worker.url));
    assert_eq!(browser.text("h1").as_deref(), Some("activity-host worker"));
    let users = browser.text("#component-users").unwrap();
    assert!(
        users.contains("exports not called since the worker started"),
        "{users}"
    );
    // Listed, though folded away until called.
    let all = browser.run("return document.getElementById('component-users').textContent");
    let all = all.as_str().unwrap();
    assert!(all.contains("func(user-id: u64) -> record"), "{all}");
    wait_until_live(&browser);

    // A miss, a hit, a bypass and an error appear without reloading.
    let miss = worker.call("users", "fetch-user(1)");
    let hit = worker.call("users", "fetch-user(1)");
    let bypass = worker.call("users", r#"send-email("a@b")"#);
    let trap = worker.call("typed", "divide(0)");
    assert_eq!(
        (
            miss.cache.as_deref(),
            hit.cache.as_deref(),
            bypass.cache.as_deref(),
            trap.status
        ),
        (Some("miss"), Some("hit"), Some("bypass"), 500)
    );
    let live = browser.wait_for_text("#calls-body", "trap", Duration::from_secs(10));
    let rows: Vec<&str> = live.lines().collect();
    assert_eq!(rows.len(), 4, "{live}");
    assert!(
        rows[0].contains("divide") && rows[0].contains("error"),
        "{live}"
    );
    assert!(rows[1].contains("send-email") && rows[1].contains("bypass"));
    assert!(rows[2].contains("fetch-user") && rows[2].contains("hit"));
    assert!(
        rows[3].contains("miss") && rows[3].contains("new"),
        "{live}"
    );

    // Exports called so far lead their component's table (the others wait
    // in a closed list).
    browser.open(&format!("{}/ui", worker.url));
    let called = browser.text("#component-users table.exports").unwrap();
    assert!(called.contains("fetch-user") && called.contains("send-email"));
    assert!(!called.contains("calculate"), "{called}");
    let summary = browser.text(".summary").unwrap();
    assert!(
        summary.contains("4 calls") && summary.contains("1 errors"),
        "{summary}"
    );

    // Invalidate fetch-user from its row: the next call misses, `invalidated`.
    browser.click(&format!("{FETCH_USER} button.invalidate"));
    let notice = browser.wait_for_text(".notice", "Invalidated", Duration::from_secs(10));
    assert!(notice.contains("#fetch-user"), "{notice}");
    wait_until_live(&browser);
    let after = worker.call("users", "fetch-user(1)");
    assert_eq!(after.cache.as_deref(), Some("miss"));
    assert_eq!(after.body["reason"], "invalidated");
    browser.wait_for_text("#calls-body", "invalidated", Duration::from_secs(10));
    let events = browser.text("#events").unwrap();
    assert!(events.contains("invalidated users"), "{events}");

    // Counters, hit ratio and the chart of the export, on a fresh load.
    browser.open(&format!("{}/ui", worker.url));
    let counts = browser.text(&format!("{FETCH_USER} td.counts")).unwrap();
    assert_eq!(
        counts, "1 / 2 / 0 / 0 / 0",
        "hit / miss / bypass / degraded / error"
    );
    let row = browser.text(FETCH_USER).unwrap();
    assert!(row.contains("33 %"), "one hit in three lookups: {row}");
    let dots = browser.run(&format!(
        "return document.querySelectorAll('{} svg .ratio circle').length",
        FETCH_USER.replace('\'', "\\'")
    ));
    assert!(
        dots.as_u64().unwrap() >= 1,
        "the chart shows its hit ratio: {dots}"
    );
    browser.screenshot(&support::repo_root().join("target/ui-screenshot.png"));

    // Its entries, then evict the one there is.
    browser.click(&format!("{FETCH_USER} .actions a"));
    let entries = browser.wait_for_text("#entries", "Evict", Duration::from_secs(10));
    assert_eq!(
        entries.lines().count(),
        2,
        "a header and one entry: {entries}"
    );
    browser.click("#entries button");
    browser.wait_for_text(".notice", "Evicted entry", Duration::from_secs(10));
    assert!(browser.text("main").unwrap().contains("No cached entries."));
    let evicted = worker.call("users", "fetch-user(1)");
    assert_eq!(evicted.body["reason"], "invalidated", "{}", evicted.body);
}

/// A client that shows redirects and cookies instead of following them.
fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

fn text(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

#[test]
fn the_page_reads_without_javascript_and_needs_the_token_for_everything() {
    let dir = components();
    let config = dir.path().join("worker.toml");
    std::fs::write(
        &config,
        r#"
[components.users]
allowed-outbound-hosts = ["http://127.0.0.1:8089"]

[components.users.secrets]
API_TOKEN = { env = "UI_TEST_SECRET", hosts = ["http://127.0.0.1:8089"] }
"#,
    )
    .unwrap();
    let token = "ui-test-token-4f9a";
    let secret = "ui-test-secret-value-77c1";
    let worker = Worker::start_with_env(
        &[
            "--dir",
            dir.path().to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--token",
            token,
        ],
        &[("UI_TEST_SECRET", secret)],
    );
    worker.call("users", "fetch-user(7)");
    let agent = plain_agent();
    let ui = format!("{}/ui", worker.url);

    // Without the cookie: the login form, for reading and for actions.
    let (status, page) = text(agent.get(&ui).call());
    assert_eq!(status, 401);
    assert!(page.contains(r#"action="/ui/login""#), "{page}");
    let invalidate = format!("{}/ui/components/users/invalidate", worker.url);
    let (status, _) = text(agent.post(&invalidate).send_form([("all", "true")]));
    assert_eq!(status, 401, "no action without the token");
    let (status, page) = text(
        agent
            .post(&format!("{ui}/login"))
            .send_form([("token", "nope")]),
    );
    assert_eq!(status, 401);
    assert!(page.contains("not the worker"), "{page}");

    // The right token sets a cookie holding its digest, not the token.
    let login = agent
        .post(&format!("{ui}/login"))
        .send_form([("token", token)])
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains(token), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_owned();

    // Server-rendered: everything reads without JavaScript.
    let (status, page) = text(agent.get(&ui).header("cookie", &cookie).call());
    assert_eq!(status, 200);
    for expected in [
        "fetch-user",
        "http://127.0.0.1:8089",
        "secrets API_TOKEN (names only)",
        "<td class=\"outcome\">miss</td>",
        "<td class=\"why\">new</td>",
    ] {
        assert!(
            page.contains(expected),
            "`{expected}` missing from the page"
        );
    }
    for secret_text in [token, secret] {
        assert!(!page.contains(secret_text), "the page shows a secret");
    }

    // A form posted from another site is refused; from the page, it works.
    let (status, _) = text(
        agent
            .post(&invalidate)
            .header("cookie", &cookie)
            .header("origin", "http://evil.example")
            .send_form([("all", "true")]),
    );
    assert_eq!(status, 403);
    assert_eq!(
        worker.call("users", "fetch-user(7)").cache.as_deref(),
        Some("hit"),
        "nothing was invalidated"
    );
    let done = agent
        .post(&invalidate)
        .header("cookie", &cookie)
        .header("origin", worker.url.as_str())
        .send_form([("all", "true")])
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    let location = done.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/ui?notice=invalidated"), "{location}");
    let after = worker.call("users", "fetch-user(7)");
    assert_eq!(after.body["reason"], "invalidated");
    let (status, _) = text(
        agent
            .post(&invalidate)
            .header("cookie", &cookie)
            .send_form([("export", "nope")]),
    );
    assert_eq!(status, 404, "an unknown export");
    let calls: Vec<Value> = worker.calls();
    assert!(calls.iter().all(|call| !call.to_string().contains(secret)));
}

#[test]
fn an_open_page_does_not_hold_up_a_shutdown() {
    let dir = components();
    let worker = Worker::start(dir.path(), &[]);
    // A page's live list: a stream that never ends by itself.
    let live = plain_agent()
        .get(&format!("{}/ui/calls/live", worker.url))
        .call()
        .unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(worker.terminate()));
    let status = exit
        .recv_timeout(Duration::from_secs(10))
        .expect("SIGTERM waits for the open stream");
    assert!(status.success(), "clean exit: {status}");
    drop(live);
}
