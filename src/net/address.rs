//! `SocketAddress`: an IPv4 or IPv6 address and port.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::str::FromStr;

use super::{SocketError, Target};

/// An IPv4 or IPv6 socket address: the counterpart of the Swift library's `SocketAddress`.
///
/// ```
/// use event::SocketAddress;
/// let v4 = SocketAddress::ipv4("127.0.0.1", 8080)?;
/// let v6 = SocketAddress::ipv6("::1", 8080)?;
/// assert_eq!(v4.to_string(), "127.0.0.1:8080");
/// assert_eq!(v6.to_string(), "[::1]:8080");
/// assert_eq!("[::1]:8080".parse::<SocketAddress>()?, v6);
/// assert!(SocketAddress::ipv4("300.0.0.1", 80).is_err());
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketAddress(SocketAddr);

impl SocketAddress {
    /// An IPv4 address in dotted-quad form, such as `"127.0.0.1"`.
    pub fn ipv4(host: &str, port: u16) -> Result<SocketAddress, SocketError> {
        host.parse::<Ipv4Addr>()
            .map(|ip| SocketAddress(SocketAddr::new(IpAddr::V4(ip), port)))
            .map_err(|_| invalid(host, "not an IPv4 address (expected a.b.c.d)"))
    }

    /// An IPv6 address such as `"::1"` (brackets are accepted: `"[::1]"`).
    pub fn ipv6(host: &str, port: u16) -> Result<SocketAddress, SocketError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        bare.parse::<Ipv6Addr>()
            .map(|ip| SocketAddress(SocketAddr::new(IpAddr::V6(ip), port)))
            .map_err(|_| invalid(host, "not an IPv6 address"))
    }

    /// `0.0.0.0:port`: every IPv4 interface.
    pub fn any_ipv4(port: u16) -> SocketAddress {
        SocketAddress(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
    }

    /// `[::]:port`: every IPv6 interface (and IPv4 too, unless `IPV6_V6ONLY` is set).
    pub fn any_ipv6(port: u16) -> SocketAddress {
        SocketAddress(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
    }

    /// `127.0.0.1:port`.
    pub fn localhost(port: u16) -> SocketAddress {
        SocketAddress(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
    }

    /// The IP address.
    pub fn ip(&self) -> IpAddr {
        self.0.ip()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.0.is_ipv6()
    }

    /// The standard library's form.
    pub fn to_std(self) -> SocketAddr {
        self.0
    }
}

fn invalid(input: &str, reason: &'static str) -> SocketError {
    SocketError::InvalidAddress {
        input: input.to_string(),
        reason,
    }
}

impl FromStr for SocketAddress {
    type Err = SocketError;

    /// Parses `"127.0.0.1:8080"` or `"[::1]:8080"` (no host names: see
    /// [`Socket::connect`](crate::Socket::connect) for those).
    fn from_str(s: &str) -> Result<SocketAddress, SocketError> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(SocketAddress(addr));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(invalid(s, "expected ip:port"));
        };
        let Ok(_port) = port.parse::<u16>() else {
            return Err(invalid(s, "port is not a number from 0 to 65535"));
        };
        if host.contains(':') && !host.starts_with('[') {
            return Err(invalid(s, "an IPv6 address needs brackets: [addr]:port"));
        }
        Err(invalid(s, "not an IP address"))
    }
}

impl From<SocketAddr> for SocketAddress {
    fn from(addr: SocketAddr) -> SocketAddress {
        SocketAddress(addr)
    }
}

impl From<SocketAddress> for SocketAddr {
    fn from(addr: SocketAddress) -> SocketAddr {
        addr.0
    }
}

impl From<(IpAddr, u16)> for SocketAddress {
    fn from((ip, port): (IpAddr, u16)) -> SocketAddress {
        SocketAddress(SocketAddr::new(ip, port))
    }
}

impl From<SocketAddrV4> for SocketAddress {
    fn from(addr: SocketAddrV4) -> SocketAddress {
        SocketAddress(addr.into())
    }
}

impl From<SocketAddrV6> for SocketAddress {
    fn from(addr: SocketAddrV6) -> SocketAddress {
        SocketAddress(addr.into())
    }
}

impl From<(Ipv4Addr, u16)> for SocketAddress {
    fn from((ip, port): (Ipv4Addr, u16)) -> SocketAddress {
        SocketAddress(SocketAddr::new(ip.into(), port))
    }
}

impl From<(Ipv6Addr, u16)> for SocketAddress {
    fn from((ip, port): (Ipv6Addr, u16)) -> SocketAddress {
        SocketAddress(SocketAddr::new(ip.into(), port))
    }
}

/// What [`Socket::listen_on`](crate::Socket::listen_on),
/// [`ListenOptions::listen_on`](crate::ListenOptions::listen_on) and
/// [`PerCore::listen`](crate::PerCore::listen) accept: the forms
/// [`Socket::connect`](crate::Socket::connect) takes.
///
/// - anything that converts into a [`SocketAddress`]: a `SocketAddress`, a `std::net`
///   `SocketAddr` (V4 or V6), `(IpAddr, port)`, `(Ipv4Addr, port)`, `(Ipv6Addr, port)`;
/// - text: `"127.0.0.1:9000"`, `"[::1]:9000"`, or `"host:port"` with a host name, resolved
///   with the system resolver on the calling thread (it blocks, as `std::net::TcpListener::bind`
///   does; the first address it gives is used); also `("127.0.0.1", 9000)`, `("localhost", 9000)`
///   and a [`Target`].
///
/// Text that is not an address fails with [`SocketError::InvalidAddress`] (a name that does not
/// resolve with [`SocketError::Resolve`]), never a panic:
///
/// ```
/// use event::{Socket, SocketError};
///
/// let server = Socket::listen_on("127.0.0.1:0")?;
/// assert!(server.local_address().ip().is_loopback());
/// let err = Socket::listen_on("127.0.0.1").unwrap_err();
/// assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err}");
/// # Ok::<(), SocketError>(())
/// ```
pub trait ToListenAddress {
    /// The address to bind, or why there is none.
    fn to_listen_address(self) -> Result<SocketAddress, SocketError>;
}

impl<T: Into<SocketAddress>> ToListenAddress for T {
    fn to_listen_address(self) -> Result<SocketAddress, SocketError> {
        Ok(self.into())
    }
}

impl ToListenAddress for &str {
    fn to_listen_address(self) -> Result<SocketAddress, SocketError> {
        let err = match self.parse::<SocketAddress>() {
            Ok(addr) => return Ok(addr),
            Err(e) => e,
        };
        // `name:port`: resolve the name, as `connect` does. Anything else keeps the parser's
        // reason (no port, a bad port, IPv6 without brackets, a bad IPv4 address).
        match self.rsplit_once(':') {
            Some((host, port)) if is_host_name(host) => match port.parse::<u16>() {
                Ok(port) => resolve_first(host, port, self),
                Err(_) => Err(err),
            },
            _ => Err(err),
        }
    }
}

impl ToListenAddress for String {
    fn to_listen_address(self) -> Result<SocketAddress, SocketError> {
        self.as_str().to_listen_address()
    }
}

impl ToListenAddress for &String {
    fn to_listen_address(self) -> Result<SocketAddress, SocketError> {
        self.as_str().to_listen_address()
    }
}

impl ToListenAddress for (&str, u16) {
    fn to_listen_address(self) -> Result<SocketAddress, SocketError> {
        let (host, port) = self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok((ip, port).into());
        }
        if let Ok(v6) = SocketAddress::ipv6(host, port) {
            return Ok(v6);
        }
        if is_host_name(host) {
            return resolve_first(host, port, &format!("{host}:{port}"));
        }
        Err(invalid(host, "not an IP address or host name"))
    }
}

impl ToListenAddress for Target {
    fn to_listen_address(self) -> Result<SocketAddress, SocketError> {
        match self {
            Target::Address(addr) => Ok(addr.into()),
            Target::Host(text) => text.as_str().to_listen_address(),
        }
    }
}

/// Whether `host` could be a name for the resolver (not empty, not an IP address or a broken
/// one: no colon, bracket, and not only digits and dots).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && !host.contains([':', '[', ']'])
        && !host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The first address the system resolver gives for `host` (blocking).
fn resolve_first(host: &str, port: u16, input: &str) -> Result<SocketAddress, SocketError> {
    use std::net::ToSocketAddrs;
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|source| SocketError::Resolve {
            host: input.to_string(),
            source,
        })?;
    addrs
        .next()
        .map(SocketAddress)
        .ok_or_else(|| invalid(input, "the name resolved to no address"))
}

impl fmt::Display for SocketAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SocketAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
