//! A TLS-terminating gRPC proxy for tests: Debian's `nginx` (installed by
//! `scripts/ensure-nginx.sh`, which `scripts/test.sh` runs) in front of a
//! plain gRPC server, on a free loopback port, stopped when dropped. It can
//! require a client certificate (mutual TLS) and an API key
//! (`authorization: Bearer KEY`), as Temporal Cloud does.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pki::{Issued, Pki};
use super::redis::free_port;

/// What the proxy demands of clients.
#[derive(Default)]
pub struct Demands<'a> {
    /// A client certificate signed by the proxy's CA.
    pub client_certificate: bool,
    /// This API key as a bearer token.
    pub api_key: Option<&'a str>,
}

/// A running proxy.
pub struct GrpcProxy {
    /// `127.0.0.1:PORT`, where it listens with TLS.
    pub address: String,
    child: Child,
    _dir: tempfile::TempDir,
}

fn nginx() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

impl GrpcProxy {
    /// Starts nginx serving `cert` (signed by `pki`'s CA), forwarding gRPC
    /// to `upstream` (`HOST:PORT`, plain), demanding `demands`.
    pub fn start(upstream: &str, pki: &Pki, cert: &Issued, demands: &Demands<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let verify = if demands.client_certificate {
            format!(
                "ssl_client_certificate {}; ssl_verify_client on;",
                pki.ca().display()
            )
        } else {
            String::new()
        };
        // A wrong key: HTTP 401, which gRPC clients read as UNAUTHENTICATED.
        let check_key = demands.api_key.map_or(String::new(), |key| {
            format!("if ($http_authorization != \"Bearer {key}\") {{ return 401; }}")
        });
        let prefix = dir.path().display();
        let config = format!(
            "daemon off; master_process off; worker_processes 1; pid {prefix}/nginx.pid;
             error_log {prefix}/error.log warn;
             events {{ worker_connections 256; }}
             http {{
               access_log off;
               client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
               fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi;
               scgi_temp_path {prefix}/scgi;
               server {{
                 listen 127.0.0.1:{port} ssl http2;
                 ssl_certificate {cert}; ssl_certificate_key {key};
                 {verify}
                 location / {{
                   {check_key}
                   grpc_pass grpc://{upstream};
                   grpc_read_timeout 300s; grpc_send_timeout 300s;
                 }}
               }}
             }}",
            cert = cert.cert.display(),
            key = cert.key.display(),
        );
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(nginx())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (Debian's; scripts/ensure-nginx.sh installs it)");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            address,
            child,
            _dir: dir,
        }
    }
}

impl Drop for GrpcProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
