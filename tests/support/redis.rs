//! A real `redis-server` for one test: on a free loopback port, without
//! persistence, stopped (by pid) when dropped. A missing `redis-server` fails
//! the test: it never skips.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    pub fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.spawn();
        server
    }

    /// Starts a server on a free port with `extra` settings (such as a TLS
    /// port: the plain port stays, for the test's own commands).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.spawn_with(extra);
        server
    }

    fn spawn(&mut self) {
        self.spawn_with(&[]);
    }

    fn spawn_with(&mut self, extra: &[&str]) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is required for this test (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command("PING").as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends one inline command; returns the first reply line, if any.
    pub fn command(&self, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut reply = [0u8; 512];
        let n = stream.read(&mut reply).ok()?;
        let text = String::from_utf8_lossy(&reply[..n]).into_owned();
        text.lines().next().map(str::to_owned)
    }

    /// The whole reply of an inline command (such as `CLUSTER INFO`) as text.
    pub fn info(&self, command: &str) -> String {
        String::from_utf8_lossy(
            &self.raw(&command.split(' ').map(str::as_bytes).collect::<Vec<_>>()),
        )
        .into_owned()
    }

    /// How many keys the server holds.
    pub fn dbsize(&self) -> u64 {
        self.command("DBSIZE")
            .and_then(|reply| reply.trim_start_matches(':').parse().ok())
            .unwrap_or(0)
    }

    /// Sends a command with binary-safe arguments (RESP); returns the reply.
    pub fn raw(&self, args: &[&[u8]]) -> Vec<u8> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut reply = vec![0u8; 64 * 1024];
        let n = stream.read(&mut reply).unwrap();
        reply.truncate(n);
        reply
    }

    /// Every key matching `pattern` (tests only; fine on a tiny server).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let reply = String::from_utf8_lossy(&self.raw(&[b"KEYS", pattern.as_bytes()])).into_owned();
        reply
            .lines()
            .filter(|l| !l.starts_with('*') && !l.starts_with('$'))
            .map(str::to_owned)
            .collect()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Freezes the server (SIGSTOP): it accepts connections, never answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Unfreezes the server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a new, empty server on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

/// A Redis Cluster of `redis-server` processes (primaries only, no
/// replicas), each on a free loopback port, stopped when dropped.
pub struct RedisCluster {
    /// The nodes.
    pub nodes: Vec<RedisServer>,
    _config_dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts `size` nodes, joins them with `redis-cli --cluster create`, and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start(size: usize) -> Self {
        Self::start_with(size, |_| Vec::new())
    }

    /// Like [`RedisCluster::start`], node `i` started with `extra(i)` too
    /// (such as a TLS port; the plain port stays for the test's commands).
    pub fn start_with(size: usize, extra: impl Fn(usize) -> Vec<String>) -> Self {
        let config_dir = tempfile::tempdir().unwrap();
        let nodes: Vec<RedisServer> = (0..size)
            .map(|i| {
                let port = free_port();
                let config = config_dir.path().join(format!("nodes-{port}.conf"));
                let mut server = RedisServer { port, child: None };
                let mut args = vec![
                    "--cluster-enabled".to_owned(),
                    "yes".to_owned(),
                    "--cluster-config-file".to_owned(),
                    config.to_str().unwrap().to_owned(),
                ];
                args.extend(extra(i));
                server.spawn_with(&args.iter().map(String::as_str).collect::<Vec<_>>());
                server
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is required for this test (it comes with redis-server)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &nodes {
            while !node.info("CLUSTER INFO").contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "the cluster did not form");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Self {
            nodes,
            _config_dir: config_dir,
        }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A free loopback port, for any server a test starts.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL stops a paused server too.
        self.kill();
    }
}
