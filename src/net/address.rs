//! `SocketAddress`: an IPv4 or IPv6 address and port.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::SocketError;

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
