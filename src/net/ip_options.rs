//! `IpOptions`: the socket options TCP listeners and UDP sockets both set before binding
//! (`SO_REUSEADDR`, `SO_REUSEPORT`, `IPV6_V6ONLY`), the socket they make, and their builders,
//! written once for `ListenOptions` and `UdpOptions`.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Type};

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IpOptions {
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    /// `None`: as the system sets it.
    pub(crate) ipv6_only: Option<bool>,
}

impl IpOptions {
    /// A new non-blocking, close-on-exec socket for `addr` with these options set, not yet
    /// bound. (socket2 sets close-on-exec on Unix, and SO_NOSIGPIPE on Apple platforms.)
    pub(crate) fn socket(
        &self,
        addr: SocketAddr,
        ty: Type,
        protocol: Protocol,
    ) -> io::Result<socket2::Socket> {
        let socket = socket2::Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
        socket.set_nonblocking(true)?;
        if self.reuse_address {
            socket.set_reuse_address(true)?;
        }
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        if let (Some(only), true) = (self.ipv6_only, addr.is_ipv6()) {
            socket.set_only_v6(only)?;
        }
        Ok(socket)
    }
}

/// The builders of [`IpOptions`] on an options type with an `ip: IpOptions` field, written
/// once: each caller gives each builder's docs (its examples name its own types).
macro_rules! ip_option_builders {
    (
        $(#[$addr_doc:meta])* reuse_address;
        $(#[$port_doc:meta])* reuse_port;
        $(#[$v6_doc:meta])* ipv6_only;
    ) => {
        $(#[$addr_doc])*
        pub fn reuse_address(mut self, on: bool) -> Self {
            self.ip.reuse_address = on;
            self
        }

        $(#[$port_doc])*
        pub fn reuse_port(mut self, on: bool) -> Self {
            self.ip.reuse_port = on;
            self
        }

        $(#[$v6_doc])*
        pub fn ipv6_only(mut self, on: bool) -> Self {
            self.ip.ipv6_only = Some(on);
            self
        }
    };
}
pub(crate) use ip_option_builders;
