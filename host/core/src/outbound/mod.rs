//! What a component's guests may reach on the network: nothing unless
//! granted. A component's `allowed-outbound-hosts` name the HTTP(S) hosts
//! its `wasi:http` requests may go to and the TCP hosts its `wasi:sockets`
//! connections may reach (each with a port; names resolve only when a grant
//! names them); UDP, listening and everything else are refused. Its
//! `secrets` reach the guest as placeholders that the host replaces in
//! requests to each secret's own hosts. Each call may make a bounded number
//! of requests and connections and read a bounded number of response bytes.
//!
//! A refusal is an error the guest sees (`HTTP-request-denied`, sockets'
//! `access-denied`) and one WARN line naming the component and the target.

mod grant;
mod http;
mod lookup;
mod secrets;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::sandbox::Sandbox;

pub use grant::{GrantError, OutboundGrant, Scheme};
pub(crate) use http::OutboundHttp;
pub(crate) use lookup::{GatedLookup, GatedLookupView};
pub use secrets::SecretGrant;
use secrets::Secrets;

/// Grants one instance of `component` the network its `sandbox` allows:
/// TCP (with its address check) if a grant is for TCP, its secrets'
/// placeholders as variables; returns its [`Network`] and its `wasi:http`
/// hooks.
pub(crate) fn grant(
    wasi: &mut WasiCtxBuilder,
    component: &Arc<str>,
    sandbox: &Sandbox,
) -> (Arc<Network>, OutboundHttp) {
    let granted = &sandbox.capabilities;
    let network = Arc::new(Network::new(
        component,
        &granted.allowed_outbound_hosts,
        sandbox.limits.network_budget(),
    ));
    if network.grants_tcp() {
        let check = Arc::clone(&network);
        wasi.allow_tcp(true)
            .allow_ip_name_lookup(true)
            .socket_addr_check(move |addr, usage| {
                let allowed = check.allows_socket(addr, usage);
                Box::pin(async move { allowed })
            });
    }
    let secrets = Secrets::new(&granted.secrets);
    for (name, placeholder) in secrets.guest_env() {
        wasi.env(name, placeholder);
    }
    let hooks = OutboundHttp::new(Arc::clone(&network), secrets);
    (network, hooks)
}

/// One instance's network: its component's grants and the current call's
/// budget, shared by its HTTP hooks, its socket checks and its name lookups.
pub(crate) struct Network {
    component: Arc<str>,
    grants: Vec<OutboundGrant>,
    max_connections: u32,
    max_response_bytes: u64,
    connect_timeout: Duration,
    connections: AtomicU32,
    response_bytes: AtomicU64,
    /// Addresses the guest resolved through granted names, with the names.
    resolved: Mutex<HashMap<IpAddr, Vec<String>>>,
}

/// How much network one call may use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetworkBudget {
    /// HTTP requests plus TCP connections.
    pub max_connections: u32,
    /// Bytes of HTTP response bodies.
    pub max_response_bytes: u64,
    /// How long establishing one connection may take.
    pub connect_timeout: Duration,
}

impl Network {
    /// The network of an instance of `component` with `grants`.
    fn new(component: &Arc<str>, grants: &[OutboundGrant], budget: NetworkBudget) -> Self {
        Self {
            component: Arc::clone(component),
            grants: grants.to_vec(),
            max_connections: budget.max_connections,
            max_response_bytes: budget.max_response_bytes,
            connect_timeout: budget.connect_timeout,
            connections: AtomicU32::new(0),
            response_bytes: AtomicU64::new(0),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any grant is for TCP (so sockets are switched on at all).
    fn grants_tcp(&self) -> bool {
        self.grants
            .iter()
            .any(|grant| grant.scheme() == Scheme::Tcp)
    }

    /// Starts a new call's budget (a warm instance serves many calls).
    pub fn start_call(&self) {
        self.connections.store(0, Ordering::Relaxed);
        self.response_bytes.store(0, Ordering::Relaxed);
    }

    /// Takes one connection from the call's budget; `false` when it is
    /// spent (logged).
    fn take_connection(&self, target: &str) -> bool {
        let used = self.connections.fetch_add(1, Ordering::Relaxed);
        if used < self.max_connections {
            return true;
        }
        self.refuse(
            target,
            &format!(
                "the call made max-outbound-requests ({}) requests and connections already",
                self.max_connections
            ),
        );
        false
    }

    /// Counts `bytes` of response body; `false` once the call read more
    /// than its bound.
    fn take_response_bytes(&self, bytes: usize) -> bool {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let total = self.response_bytes.fetch_add(bytes, Ordering::Relaxed);
        total.saturating_add(bytes) <= self.max_response_bytes
    }

    /// Whether a socket may be used so (each refusal logged). A connect
    /// first binds its socket to the unspecified address, which is allowed;
    /// any other bind, listening and UDP are not.
    fn allows_socket(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        match usage {
            SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => true,
            SocketAddrUse::TcpConnect => {
                let target = format!("tcp://{addr}");
                if !self.allows_tcp(addr) {
                    self.refuse(&target, "no allowed-outbound-hosts entry grants it");
                    return false;
                }
                self.take_connection(&target)
            }
            _ => {
                self.refuse(
                    &format!("{usage:?} {addr}"),
                    "only outgoing TCP connections can be granted",
                );
                false
            }
        }
    }

    /// Whether a TCP grant names `addr`'s address and port, or a name the
    /// guest resolved to that address.
    fn allows_tcp(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        let resolved = self.resolved.lock().expect("resolved addresses lock");
        let names = resolved.get(&ip).map(Vec::as_slice).unwrap_or_default();
        let ip = ip.to_string();
        std::iter::once(&ip).chain(names).any(|host| {
            self.grants
                .iter()
                .any(|grant| grant.allows(Scheme::Tcp, host, addr.port(), None))
        })
    }

    /// Whether a TCP grant names `name` (so the guest may resolve it).
    fn grants_tcp_name(&self, name: &str) -> bool {
        self.grants
            .iter()
            .any(|grant| grant.scheme() == Scheme::Tcp && grant.names(name))
    }

    /// Remembers that `name` (granted) resolved to `ip`.
    fn remember_resolved(&self, ip: IpAddr, name: &str) {
        let mut resolved = self.resolved.lock().expect("resolved addresses lock");
        let names = resolved.entry(ip.to_canonical()).or_default();
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }

    /// Logs one refused use of the network.
    fn refuse(&self, target: &str, why: &str) {
        crate::event_line::outbound_refused(&self.component, target, why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(grants: &[&str], max_connections: u32) -> Network {
        let grants: Vec<OutboundGrant> = grants.iter().map(|g| g.parse().unwrap()).collect();
        let budget = NetworkBudget {
            max_connections,
            max_response_bytes: 10,
            connect_timeout: Duration::from_secs(1),
        };
        Network::new(&Arc::from("c"), &grants, budget)
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn sockets_connect_to_granted_addresses_and_ports_only() {
        let net = network(&["tcp://127.0.0.1:6379", "tcp://db.internal:5432"], 10);
        assert!(net.allows_socket(addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(net.allows_socket(addr("[::]:0"), SocketAddrUse::TcpBind));
        assert!(!net.allows_socket(addr("0.0.0.0:80"), SocketAddrUse::TcpBind));
        assert!(net.allows_socket(addr("127.0.0.1:6379"), SocketAddrUse::TcpConnect));
        assert!(!net.allows_socket(addr("127.0.0.1:6380"), SocketAddrUse::TcpConnect));
        assert!(!net.allows_socket(addr("10.0.0.7:5432"), SocketAddrUse::TcpConnect));
        net.remember_resolved("10.0.0.7".parse().unwrap(), "db.internal");
        assert!(net.allows_socket(addr("10.0.0.7:5432"), SocketAddrUse::TcpConnect));
        assert!(!net.allows_socket(addr("10.0.0.7:6379"), SocketAddrUse::TcpConnect));
        for usage in [
            SocketAddrUse::TcpListen,
            SocketAddrUse::TcpAccept,
            SocketAddrUse::UdpBind,
            SocketAddrUse::UdpSend,
            SocketAddrUse::UdpReceive,
        ] {
            assert!(
                !net.allows_socket(addr("127.0.0.1:6379"), usage),
                "{usage:?}"
            );
        }
        assert!(net.grants_tcp_name("DB.internal"));
        assert!(!net.grants_tcp_name("localhost"));
    }

    #[test]
    fn each_call_has_its_own_budget() {
        let net = network(&["tcp://127.0.0.1:1"], 2);
        let target = addr("127.0.0.1:1");
        assert!(net.allows_socket(target, SocketAddrUse::TcpConnect));
        assert!(net.allows_socket(target, SocketAddrUse::TcpConnect));
        assert!(!net.allows_socket(target, SocketAddrUse::TcpConnect));
        assert!(net.take_response_bytes(10));
        assert!(!net.take_response_bytes(1));
        net.start_call();
        assert!(net.allows_socket(target, SocketAddrUse::TcpConnect));
        assert!(net.take_response_bytes(10));
    }
}
