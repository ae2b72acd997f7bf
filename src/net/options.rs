//! `ListenOptions`: how a listening socket is made (backlog, `SO_REUSEADDR`/`SO_REUSEPORT`,
//! `IPV6_V6ONLY`), and the limits its `ServerSocket` applies to what it accepts.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Protocol, Type};

use super::ip_options::{IpOptions, ip_option_builders};
use super::listener::local_addr;
use super::{ServerSocket, SocketError};

/// Options for a listening socket, for what [`Socket::listen`](crate::Socket::listen) does not set.
///
/// ```
/// let server = event::ListenOptions::new()
///     .backlog(1024)
///     .reuse_port(true)
///     .listen_on(event::SocketAddress::localhost(0))?;
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub(super) backlog: i32,
    pub(super) ip: IpOptions,
    pub(super) limits: Limits,
}

/// What a listener limits: how many connections are open, and how long each may idle. Every
/// listener's options hold one (TCP's and Unix's), with the builders of `limit_builders!`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub(crate) max_connections: Option<usize>,
    pub(crate) at_limit: AtLimit,
    pub(crate) idle_timeout: Option<Duration>,
    /// `TCP_NODELAY` on every accepted connection (TCP listeners only).
    pub(crate) nodelay: bool,
}

/// The builders of [`Limits`] on an options type with a `limits: Limits` field, written once:
/// each caller gives each builder's docs (its examples name its own types).
macro_rules! limit_builders {
    (
        $(#[$max_doc:meta])* max_connections;
        $(#[$at_doc:meta])* at_limit;
        $(#[$idle_doc:meta])* idle_timeout;
    ) => {
        $(#[$max_doc])*
        pub fn max_connections(mut self, max: usize) -> Self {
            self.limits.max_connections = Some(max);
            self
        }

        $(#[$at_doc])*
        pub fn at_limit(mut self, at_limit: $crate::AtLimit) -> Self {
            self.limits.at_limit = at_limit;
            self
        }

        $(#[$idle_doc])*
        pub fn idle_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.limits.idle_timeout = Some(timeout);
            self
        }
    };
}
pub(crate) use limit_builders;

/// What a listener with a connection limit does with new connections while at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtLimit {
    /// Leave them in the kernel's backlog until a connection closes (clients wait; once the
    /// backlog is full the kernel stops completing handshakes).
    #[default]
    Wait,
    /// Accept and close them at once (clients see the connection end immediately).
    Close,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions::new()
    }
}

/// The backlog a listener gets unless told otherwise: the kernel's maximum, as Go does.
pub(crate) fn default_backlog() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1024)
}

impl ListenOptions {
    /// The kernel's largest backlog (`net.core.somaxconn`, 4096 on current Linux; 1024 where it
    /// cannot be read), `SO_REUSEADDR` on, `SO_REUSEPORT` off, `IPV6_V6ONLY` as the system sets
    /// it. (The Swift original's backlog of 128 drops SYNs in a burst of a few thousand
    /// clients, who then retry a second later; [`backlog`](ListenOptions::backlog) sets it.)
    ///
    /// ```
    /// // The same listener as `Socket::listen_on("127.0.0.1:0")`.
    /// let server = event::ListenOptions::new().listen_on("127.0.0.1:0")?;
    /// assert_ne!(server.local_port(), 0);
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn new() -> ListenOptions {
        ListenOptions {
            backlog: default_backlog(),
            ip: IpOptions {
                reuse_address: true,
                ..IpOptions::default()
            },
            limits: Limits::default(),
        }
    }

    limit_builders! {
        /// At most `max` connections accepted from this listener are open at once; see [`AtLimit`]
        /// for what happens to the others. A connection counts until its `Socket` is dropped.
        ///
        /// ```
        /// use std::time::Duration;
        /// use event::{ListenOptions, Socket};
        ///
        /// event::run(async {
        ///     let server = ListenOptions::new().max_connections(1).listen_on("127.0.0.1:0")?;
        ///     let _a = Socket::connect(server.local_address()).await?;
        ///     let _b = Socket::connect(server.local_address()).await?; // waits in the backlog
        ///     let first = server.accept().await?;
        ///     let at_limit = server.accept().timeout(Duration::from_millis(20)).await;
        ///     assert!(at_limit.unwrap_err().is_timeout());
        ///     drop(first); // its place frees: the second client is accepted
        ///     server.accept().await?;
        ///     Ok::<(), event::SocketError>(())
        /// })?;
        /// # Ok::<(), event::SocketError>(())
        /// ```
        max_connections;

        /// What to do with new connections at the limit (default [`AtLimit::Wait`]).
        ///
        /// ```
        /// use event::{AtLimit, ListenOptions, Socket, SocketError};
        ///
        /// event::run(async {
        ///     let server = ListenOptions::new()
        ///         .max_connections(1)
        ///         .at_limit(AtLimit::Close)
        ///         .listen_on("127.0.0.1:0")?;
        ///     let a = Socket::connect(server.local_address()).await?;
        ///     let _first = server.accept().await?;
        ///     let b = Socket::connect(server.local_address()).await?;
        ///     // The accept takes b and closes it at once; it waits for the next client meanwhile.
        ///     let accept = event::spawn(async move { server.accept().await.map(drop) });
        ///     assert!(b.read(16).await.is_err()); // closed by the server
        ///     accept.cancel();
        ///     drop(a);
        ///     Ok::<(), SocketError>(())
        /// })?;
        /// # Ok::<(), event::SocketError>(())
        /// ```
        at_limit;

        /// Gives every accepted socket `timeout` as its default read and write timeout (what
        /// [`Socket::set_read_timeout`](crate::Socket::set_read_timeout) and
        /// [`Socket::set_write_timeout`](crate::Socket::set_write_timeout) set; each socket can still
        /// change its own): a read that waits longer than `timeout` for the next bytes fails with
        /// [`SocketError::Timeout`], a write that waits longer than `timeout` for the peer to take
        /// more fails with [`SocketError::WriteTimeout`]. So a client that goes silent, or stops
        /// reading, is dropped by the task's next read or write failing, with no per-call code.
        ///
        /// It bounds each wait, not the connection: a client that trickles a byte every 0.5 s
        /// never trips a 1 s idle timeout (a slow-but-steady slowloris survives it), and no timer
        /// runs while the task is not reading or writing. For a limit on a connection's whole
        /// life (or on receiving one request), wrap the task (or the reads) in
        /// [`event::timeout`](crate::timeout):
        ///
        /// ```no_run
        /// use std::time::Duration;
        /// use event::{ListenOptions, SocketError};
        ///
        /// async fn serve() -> Result<(), SocketError> {
        ///     let server = ListenOptions::new()
        ///         .idle_timeout(Duration::from_secs(10)) // each read or write: 10 s at most
        ///         .listen_on("127.0.0.1:8080")?;
        ///     loop {
        ///         let client = server.accept().await?;
        ///         // The whole connection: 60 s at most, however steadily the client trickles.
        ///         event::spawn(event::timeout(Duration::from_secs(60), async move {
        ///             while let Ok(bytes) = client.read(4096).await {
        ///                 if client.write(&bytes).await.is_err() {
        ///                     break;
        ///                 }
        ///             }
        ///         }));
        ///     }
        /// }
        /// # drop(serve());
        /// ```
        idle_timeout;
    }

    /// Sets `TCP_NODELAY` on every connection the listener accepts (default off), as
    /// [`Socket::set_nodelay`](crate::Socket::set_nodelay) would on each: small writes go out at
    /// once instead of waiting for the peer's acknowledgement of the last (Nagle's algorithm),
    /// which is what a request/response server wants. It is set before the connection's first
    /// write; on io_uring it travels with the loop's next wait as a ring command where the
    /// kernel has one (Linux 6.7+), so it costs no system call of its own. Best effort, as Go
    /// sets it on every connection: a connection whose option cannot be set (reset already,
    /// say) is served without it. A connection's own [`Socket::set_nodelay`](crate::Socket::set_nodelay)
    /// overrides it (the queued command runs first). On io_uring, until the loop next waits,
    /// `getsockopt` on the descriptor still reads the kernel's default, and a `setsockopt` of
    /// your own on it (through `AsFd`) is overridden: use `set_nodelay`.
    ///
    /// ```
    /// let server = event::ListenOptions::new().nodelay(true).listen_on("127.0.0.1:0")?;
    /// # drop(server);
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.limits.nodelay = nodelay;
        self
    }

    /// The length of the queue of connections the kernel completes before `accept`.
    ///
    /// ```
    /// // Up to about 16 clients wait in the kernel's queue until the server accepts them.
    /// let server = event::ListenOptions::new().backlog(16).listen_on("127.0.0.1:0")?;
    /// # drop(server);
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.min(i32::MAX as u32) as i32;
        self
    }

    ip_option_builders! {
        /// `SO_REUSEADDR` (on by default): rebind a port whose old connections are in `TIME_WAIT`.
        ///
        /// ```
        /// // Off: the bind fails while connections to an earlier server on the port linger.
        /// let server = event::ListenOptions::new().reuse_address(false).listen_on("127.0.0.1:0")?;
        /// # drop(server);
        /// # Ok::<(), event::SocketError>(())
        /// ```
        reuse_address;

        /// `SO_REUSEPORT`: several sockets (one per loop) listen on the same port, and the kernel
        /// spreads connections among them. ([`PerCore`](crate::PerCore) does this for you.)
        ///
        /// ```
        /// use event::ListenOptions;
        ///
        /// let options = ListenOptions::new().reuse_port(true);
        /// let first = options.listen_on("127.0.0.1:0")?;
        /// let second = options.listen_on(first.local_address())?; // the same port
        /// assert_eq!(first.local_port(), second.local_port());
        /// # Ok::<(), event::SocketError>(())
        /// ```
        reuse_port;

        /// `IPV6_V6ONLY` for an IPv6 address: `true` accepts only IPv6, `false` IPv4 too.
        ///
        /// ```no_run
        /// // Every interface, IPv6 and IPv4 (as ::ffff:a.b.c.d) on one socket.
        /// let server = event::ListenOptions::new().ipv6_only(false).listen_on("[::]:8080")?;
        /// # drop(server);
        /// # Ok::<(), event::SocketError>(())
        /// ```
        ipv6_only;
    }

    /// Creates the socket (non-blocking, close-on-exec), sets the options, binds and listens.
    /// `addr` takes the forms `connect` does (see [`ToListenAddress`](crate::ToListenAddress)):
    /// `"127.0.0.1:9000"`, a `SocketAddr`, a [`SocketAddress`](crate::SocketAddress), `(ip, port)`.
    ///
    /// It can be called before the loop runs; the socket joins the loop at its first `accept`.
    ///
    /// ```
    /// use event::{ListenOptions, SocketAddress};
    ///
    /// let options = ListenOptions::new().backlog(128);
    /// let a = options.listen_on("127.0.0.1:0")?;
    /// let b = options.listen_on(SocketAddress::localhost(0))?;
    /// let c = options.listen_on((std::net::Ipv4Addr::LOCALHOST, 0))?;
    /// assert!(a.local_address().to_string().starts_with("127.0.0.1:"));
    /// # drop((b, c));
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn listen_on(
        &self,
        addr: impl crate::ToListenAddress,
    ) -> Result<ServerSocket, SocketError> {
        let std = self.bind(addr.to_listen_address()?.into())?;
        let local = local_addr(&std)?;
        Ok(self.wrap(std, local))
    }

    /// Creates, configures, binds and listens: a `Send` standard listener, so that listeners can
    /// be made on one thread and served on another (see [`PerCore`](crate::PerCore)).
    pub(crate) fn bind(&self, addr: SocketAddr) -> Result<std::net::TcpListener, SocketError> {
        let socket = self
            .socket(addr)
            .map_err(|source| SocketError::Socket { addr, source })?;
        socket
            .bind(&addr.into())
            .map_err(|source| SocketError::Bind { addr, source })?;
        socket
            .listen(self.backlog)
            .map_err(|source| SocketError::Listen { addr, source })?;
        Ok(socket.into())
    }

    /// A new socket for `addr` with these options set, not yet bound.
    pub(crate) fn socket(&self, addr: SocketAddr) -> std::io::Result<socket2::Socket> {
        self.ip.socket(addr, Type::STREAM, Protocol::TCP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Linux forces IPV6_V6ONLY on for a socket bound to a specific address such as ::1, so the
    // option is only observable before the bind (or on a wildcard address, which tests do not
    // bind): check what the options set on the new socket.
    #[test]
    fn options_are_set_on_the_socket_before_bind() {
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        for only in [true, false] {
            let socket = ListenOptions::new().ipv6_only(only).socket(v6).unwrap();
            assert_eq!(socket.only_v6().unwrap(), only);
        }
        let plain = ListenOptions::new()
            .reuse_address(false)
            .socket(v6)
            .unwrap();
        assert!(!plain.reuse_address().unwrap() && !plain.reuse_port().unwrap());
        let shared = ListenOptions::new().reuse_port(true).socket(v6).unwrap();
        assert!(shared.reuse_address().unwrap() && shared.reuse_port().unwrap());
        assert!(shared.nonblocking().unwrap());
    }
}
