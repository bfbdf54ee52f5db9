//! A real browser for tests: Debian's headless `chromium`, driven through
//! its WebDriver (`chromedriver`, from `chromium-driver`) over the W3C
//! WebDriver protocol: JSON over HTTP, the few commands the tests need.
//! `scripts/test.sh` installs both; a test fails (never skips) without them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::redis::free_port;

/// The key under which WebDriver returns an element's reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless chromium session, closed (and its driver stopped) on drop.
pub struct Browser {
    driver: Child,
    session: String,
    agent: ureq::Agent,
}

impl Browser {
    /// Starts `chromedriver` on a free port and opens a headless window.
    pub fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1400,1800"],
            },
        }}});
        let mut browser = Self {
            driver,
            session: String::new(),
            agent,
        };
        let started = browser.command("POST", &format!("{base}/session"), Some(capabilities));
        browser.session = format!(
            "{base}/session/{}",
            started["sessionId"].as_str().expect("a session")
        );
        browser
    }

    fn command(&self, method: &str, url: &str, body: Option<Value>) -> Value {
        let response = match (method, body) {
            ("POST", body) => self.agent.post(url).send_json(body.unwrap_or(json!({}))),
            ("DELETE", _) => self.agent.delete(url).call(),
            _ => self.agent.get(url).call(),
        };
        let mut response = response.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
        let status = response.status();
        let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {url}: {status} {answer}"
        );
        answer["value"].clone()
    }

    fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("{}{path}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub fn open(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn run(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The visible text of the first element matching `css`, if any.
    pub fn text(&self, css: &str) -> Option<String> {
        let element = self.find(css)?;
        let text = self.session_command("GET", &format!("/element/{element}/text"), None);
        text.as_str().map(str::to_owned)
    }

    /// Waits until the text of `css` contains `needle`; returns that text.
    pub fn wait_for_text(&self, css: &str, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = self.text(css).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{needle}` did not appear in `{css}` within {limit:?}; it reads:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `css` (which must exist).
    pub fn click(&self, css: &str) {
        let element = self
            .find(css)
            .unwrap_or_else(|| panic!("nothing matches `{css}`"));
        self.session_command("POST", &format!("/element/{element}/click"), None);
    }

    /// Saves a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self.session_command("GET", "/screenshot", None);
        let png = STANDARD
            .decode(png.as_str().expect("a base64 PNG"))
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    fn find(&self, css: &str) -> Option<String> {
        let found = self.session_command(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found.as_array()?.first()?[ELEMENT]
            .as_str()
            .map(str::to_owned)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(&self.session).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
