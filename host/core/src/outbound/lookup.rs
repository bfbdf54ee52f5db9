//! `wasi:sockets/ip-name-lookup` for guests: only names a TCP grant names
//! resolve (any other is `access-denied` and logged), and the addresses they
//! resolve to become connectable on the grants' ports. It replaces
//! wasmtime-wasi's own, which resolves every name once lookups are on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    Host, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode, HostNetwork, IpAddress, Network as Capability,
};
use wasmtime_wasi::p2::{DynPollable, SocketError};
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use super::Network;

/// The [`HasData`] of the gated lookup: the guest's sockets context and its
/// instance's [`Network`].
pub(crate) struct GatedLookup;

impl HasData for GatedLookup {
    type Data<'a> = GatedLookupView<'a>;
}

/// What a lookup needs from the store.
pub(crate) struct GatedLookupView<'a> {
    /// wasmtime-wasi's sockets context (it does the resolving).
    pub sockets: WasiSocketsCtxView<'a>,
    /// The grants, and where resolved addresses are remembered.
    pub network: &'a Network,
    /// The name each open lookup resolves, by its resource's handle.
    pub pending: &'a mut Vec<(u32, String)>,
}

impl Host for GatedLookupView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Capability>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !self.network.grants_tcp_name(&name) {
            self.network.refuse(
                &format!("name lookup of {name}"),
                "no tcp:// allowed-outbound-hosts entry names it",
            );
            return Err(ErrorCode::AccessDenied.into());
        }
        let stream = self.sockets.resolve_addresses(network, name.clone())?;
        self.pending.push((stream.rep(), name));
        Ok(stream)
    }
}

impl HostResolveAddressStream for GatedLookupView<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        let rep = stream.rep();
        let next = self.sockets.resolve_next_address(stream)?;
        if let (Some(address), Some((_, name))) =
            (&next, self.pending.iter().find(|(open, _)| *open == rep))
        {
            self.network.remember_resolved(ip_of(address), name);
        }
        Ok(next)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostResolveAddressStream::subscribe(&mut self.sockets, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        let rep = stream.rep();
        self.pending.retain(|(open, _)| *open != rep);
        HostResolveAddressStream::drop(&mut self.sockets, stream)
    }
}

/// The `network` interface the lookup's interface builds on: wasmtime-wasi's.
impl network::Host for GatedLookupView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets, error)
    }

    fn network_error_code(
        &mut self,
        error: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets, error)
    }
}

impl HostNetwork for GatedLookupView<'_> {
    fn drop(&mut self, capability: Resource<Capability>) -> wasmtime::Result<()> {
        HostNetwork::drop(&mut self.sockets, capability)
    }
}

fn ip_of(address: &IpAddress) -> IpAddr {
    match *address {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}
