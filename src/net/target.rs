//! `Target`: where [`Socket::connect`](crate::Socket::connect) connects, and the resolution of
//! host names.

use std::fmt;
use std::net::SocketAddr;

use super::{SocketAddress, SocketError, resolve};

/// Where [`Socket::connect`](crate::Socket::connect) should connect: an address, or a
/// `host:port` name resolved off the loop thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An IP address and port.
    Address(SocketAddr),
    /// A `host:port` text that is not an IP address, resolved with the system resolver.
    Host(String),
}

impl From<SocketAddress> for Target {
    fn from(a: SocketAddress) -> Target {
        Target::Address(a.into())
    }
}

impl From<SocketAddr> for Target {
    fn from(a: SocketAddr) -> Target {
        Target::Address(a)
    }
}

impl From<&str> for Target {
    fn from(s: &str) -> Target {
        match s.parse::<SocketAddr>() {
            Ok(a) => Target::Address(a),
            Err(_) => Target::Host(s.to_string()),
        }
    }
}

impl From<String> for Target {
    fn from(s: String) -> Target {
        Target::from(s.as_str())
    }
}

impl From<(&str, u16)> for Target {
    fn from((host, port): (&str, u16)) -> Target {
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => Target::Address(SocketAddr::new(ip, port)),
            Err(_) => Target::Host(format!("{host}:{port}")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Address(a) => a.fmt(f),
            Target::Host(h) => f.write_str(h),
        }
    }
}

pub(super) async fn resolve_host(host: &str) -> Result<Vec<SocketAddr>, SocketError> {
    if host
        .rsplit_once(':')
        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    {
        return Err(SocketError::InvalidAddress {
            input: host.to_string(),
            reason: "expected host:port",
        });
    }
    resolve::resolve(host.to_string())
        .await
        .map_err(|source| SocketError::Resolve {
            host: host.to_string(),
            source,
        })
}
