//! `UdpSocket`: a UDP socket on an event loop, and `UdpOptions` to bind one.
//!
//! The futures (`recv_from`, `send_to`, ...) and the datagram stream are in
//! `datagram_ops.rs`, shared with `UnixDatagram`.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use socket2::{Protocol, SockRef, Type};

use super::datagram::{DatagramCore, sealed::Kind};
use super::ip_options::{IpOptions, ip_option_builders};
use super::{
    Datagrams, Recv, RecvFrom, SendDatagram, SendTo, SocketAddress, SocketError, ToListenAddress,
};

/// Options for a UDP socket, for what [`UdpSocket::bind`] does not set.
///
/// ```
/// let socket = event::UdpOptions::new()
///     .reuse_port(true)
///     .bind("127.0.0.1:0")?;
/// assert_ne!(socket.local_address().port(), 0);
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct UdpOptions {
    ip: IpOptions,
    broadcast: bool,
}

impl UdpOptions {
    /// No `SO_REUSEADDR`, no `SO_REUSEPORT`, `IPV6_V6ONLY` as the system sets it, no
    /// broadcast.
    pub fn new() -> UdpOptions {
        UdpOptions::default()
    }

    ip_option_builders! {
        /// `SO_REUSEADDR`: on Linux, several sockets that all set it may bind one port (the last
        /// one bound gets the unicast datagrams; each multicast group member gets a copy).
        reuse_address;

        /// `SO_REUSEPORT`: several sockets (one per loop) bind the same port, and the kernel spreads
        /// the datagrams among them by sender.
        reuse_port;

        /// `IPV6_V6ONLY` for an IPv6 address: `true` receives only IPv6, `false` IPv4 too (as
        /// IPv4-mapped addresses, `::ffff:a.b.c.d`): one dual-stack socket on `[::]:port`.
        ipv6_only;
    }

    /// `SO_BROADCAST`: allow sends to broadcast addresses (see [`UdpSocket::set_broadcast`]).
    pub fn broadcast(mut self, on: bool) -> Self {
        self.broadcast = on;
        self
    }

    /// Creates the socket (non-blocking, close-on-exec), sets the options and binds it to
    /// `addr`, given in any form [`ToListenAddress`] takes (`"127.0.0.1:0"`, a `SocketAddr`,
    /// `(ip, port)`...). Port 0 picks a free port: [`UdpSocket::local_address`] says which.
    ///
    /// It can be called before the loop runs; the socket joins the loop that runs its first
    /// operation.
    pub fn bind(&self, addr: impl ToListenAddress) -> Result<UdpSocket, SocketError> {
        let std = self.bind_std(addr.to_listen_address()?.into())?;
        UdpSocket::from_std(std)
    }

    /// Creates, configures and binds: a `Send` standard socket (see [`PerCore`](crate::PerCore)).
    pub(crate) fn bind_std(&self, addr: SocketAddr) -> Result<std::net::UdpSocket, SocketError> {
        let socket = self
            .socket(addr)
            .map_err(|source| SocketError::Socket { addr, source })?;
        socket
            .bind(&addr.into())
            .map_err(|source| SocketError::Bind { addr, source })?;
        Ok(socket.into())
    }

    fn socket(&self, addr: SocketAddr) -> io::Result<socket2::Socket> {
        let socket = self.ip.socket(addr, Type::DGRAM, Protocol::UDP)?;
        if self.broadcast {
            socket.set_broadcast(true)?;
        }
        Ok(socket)
    }
}

/// A UDP socket on an event loop.
///
/// Receives and sends take `&self`, so one task can receive while another sends (share the
/// socket with an `Rc`); several receives (or sends) from several tasks take turns in the order
/// they started. Every operation can carry a timeout (`.timeout(d)`, or
/// [`set_recv_timeout`](UdpSocket::set_recv_timeout) for all of them); a receive that times
/// out, or is dropped, has consumed nothing: the datagram waits for the next receive.
///
/// A datagram larger than the buffer is never cut silently: the receive fails with
/// [`SocketError::Truncated`], which carries the datagram's full length (the buffer holds its
/// first bytes). A buffer of 65,536 bytes holds any datagram.
///
/// ```
/// use event::UdpSocket;
/// event::run(async {
///     let server = UdpSocket::bind("127.0.0.1:0")?;
///     let client = UdpSocket::bind("127.0.0.1:0")?;
///     client.send_to(b"ping", server.local_address()).await?;
///     let mut buf = [0; 1500];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], client.local_address()));
///     server.send_to(b"pong", from).await?;
///     let (n, _) = client.recv_from(&mut buf).await?;
///     assert_eq!(&buf[..n], b"pong");
///     Ok::<(), event::SocketError>(())
/// })?;
/// # Ok::<(), event::SocketError>(())
/// ```
///
/// On both drivers the socket's I/O goes through the readiness reactor (`recvfrom`/`sendto`
/// when epoll reports it ready; on io_uring the ring watches epoll's descriptor), see
/// ARCHITECTURE.md.
pub struct UdpSocket {
    core: DatagramCore<UdpSocket>,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("UdpSocket", f)
    }
}

fn io_err(op: &'static str) -> impl FnOnce(io::Error) -> SocketError {
    move |source| SocketError::Io { op, source }
}

impl Kind for UdpSocket {
    type Io = mio::net::UdpSocket;
    type Address = SocketAddress;
    const RECV_UNCONNECTED: &'static str =
        "recv on an unconnected UDP socket (connect first, or use recv_from)";
    const SEND_UNCONNECTED: &'static str =
        "send on an unconnected UDP socket (connect first, or use send_to)";

    #[inline]
    fn sender(from: SocketAddr) -> SocketAddress {
        from.into()
    }

    fn name_of(to: &SocketAddr) -> SocketAddress {
        (*to).into()
    }

    fn truncated(from: SocketAddress, len: usize, capacity: usize) -> SocketError {
        SocketError::Truncated {
            peer: from.into(),
            len,
            capacity,
        }
    }

    fn recv_error(
        local: &SocketAddress,
        peer: Option<&SocketAddress>,
        source: io::Error,
    ) -> SocketError {
        SocketError::Recv {
            local: (*local).into(),
            peer: peer.map(|p| (*p).into()),
            source,
        }
    }

    fn recv_timeout(
        local: &SocketAddress,
        peer: Option<&SocketAddress>,
        after: Duration,
    ) -> SocketError {
        SocketError::Timeout {
            op: "recv",
            addr: (*peer.unwrap_or(local)).into(),
            after,
        }
    }

    fn send_error(to: SocketAddress, len: usize, source: io::Error) -> SocketError {
        let peer = to.into();
        if source.raw_os_error() == Some(libc::EMSGSIZE) {
            return SocketError::DatagramTooLarge { peer, len, source };
        }
        SocketError::Send { peer, source }
    }

    fn send_timeout(to: SocketAddress, after: Duration) -> SocketError {
        SocketError::write_timeout(to.into(), after, 0)
    }
}

impl UdpSocket {
    /// Binds a UDP socket to `addr`, in any form [`ToListenAddress`] takes:
    /// `"127.0.0.1:9000"`, `"[::1]:0"`, a `SocketAddr`, `(ip, port)`. Port 0 picks a free
    /// port ([`local_address`](UdpSocket::local_address) says which). See [`UdpOptions`] for
    /// `SO_REUSEPORT`, `IPV6_V6ONLY` and broadcast.
    ///
    /// ```
    /// let socket = event::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.local_address().ip().is_loopback());
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn bind(addr: impl ToListenAddress) -> Result<UdpSocket, SocketError> {
        UdpOptions::new().bind(addr)
    }

    /// Wraps a bound, non-blocking standard socket.
    pub(crate) fn from_std(std: std::net::UdpSocket) -> Result<UdpSocket, SocketError> {
        let local = std.local_addr().map_err(io_err("getsockname"))?;
        Ok(UdpSocket::bound_at(std, local))
    }

    /// Wraps a bound, non-blocking standard socket whose address is `local`.
    pub(crate) fn bound_at(std: std::net::UdpSocket, local: SocketAddr) -> UdpSocket {
        let io = mio::net::UdpSocket::from_std(std);
        UdpSocket {
            core: DatagramCore::new(io, local.into()),
        }
    }

    /// The address the socket is bound to (with the port the kernel picked for port 0).
    pub fn local_address(&self) -> SocketAddress {
        self.core.local
    }

    /// The peer set by [`connect`](UdpSocket::connect), if any.
    pub fn peer_address(&self) -> Option<SocketAddress> {
        *self.core.peer.borrow()
    }

    /// Sets the socket's peer (`connect(2)`; no packet is sent): [`send`](UdpSocket::send)
    /// goes there, [`recv`](UdpSocket::recv) takes datagrams from it only, and an ICMP error
    /// for a datagram sent to it (the peer's port is closed: "port unreachable") fails the next
    /// `recv` or `send` with `ConnectionRefused` (see [`SocketError::kind`]). A host name is
    /// resolved on the calling thread (it blocks, as `std::net::UdpSocket::connect` does).
    ///
    /// ```
    /// use event::UdpSocket;
    /// event::run(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.connect(b.local_address())?;
    ///     b.connect(a.local_address())?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 64];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn connect(&self, addr: impl ToListenAddress) -> Result<(), SocketError> {
        let addr: SocketAddr = addr.to_listen_address()?.into();
        self.core
            .connect(&addr, addr.into())
            .map_err(|source| SocketError::Connect { addr, source })
    }

    /// Receives one datagram into `buf`, without allocating: its length and its sender.
    ///
    /// A datagram longer than `buf` fails with [`SocketError::Truncated`] (`buf` then holds
    /// its first `buf.len()` bytes; the error carries the full length). Add a time limit with
    /// [`RecvFrom::timeout`]; a receive that times out or is dropped consumed nothing.
    pub fn recv_from<'a>(&'a self, buf: &'a mut [u8]) -> RecvFrom<'a> {
        self.core.recv_from(buf)
    }

    /// Receives one datagram from the connected peer (see [`connect`](UdpSocket::connect))
    /// into `buf`: its length. Truncation and timeouts as for
    /// [`recv_from`](UdpSocket::recv_from); a peer that refused an earlier datagram fails it
    /// with `ConnectionRefused`.
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> Recv<'a> {
        self.core.recv(buf)
    }

    /// Sends `buf` as one datagram to `addr`: its length once the datagram is on its way (a
    /// full socket buffer waits for room). Never raises `SIGPIPE`; a datagram too large for
    /// UDP fails with [`SocketError::DatagramTooLarge`]. From a dual-stack IPv6 socket an IPv4
    /// `addr` is reached through its IPv4-mapped address.
    ///
    /// On epoll this is one `sendto(2)`, and its error is this send's. On io_uring the send is
    /// done once the datagram (copied) is queued for the loop's next wait, so a turn's sends
    /// reach the kernel together; at most 64 datagrams (256 KiB) per socket are in flight,
    /// past that a send waits for room. An error the kernel reports for a queued datagram (a
    /// destination refused, a network unreachable) is returned once by the socket's next send,
    /// which then sends nothing; its message names the datagram's destination where that is
    /// not the next send's.
    pub fn send_to<'a>(&'a self, buf: &'a [u8], addr: impl Into<SocketAddress>) -> SendTo<'a> {
        self.core
            .send_to(buf, Some(self.reachable(addr.into().into())))
    }

    /// Sends `buf` as one datagram to the connected peer (see
    /// [`connect`](UdpSocket::connect)); as [`send_to`](UdpSocket::send_to) otherwise.
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> SendDatagram<'a> {
        self.core.send(buf)
    }

    /// The received datagrams as a [`futures_core::Stream`] (with an inherent `next()`):
    /// each item is a datagram of at most `max_len` bytes and its sender, or the error of one
    /// receive (a truncated datagram, a timeout, an ICMP error on a connected socket); the
    /// stream never ends by itself.
    ///
    /// ```
    /// use event::UdpSocket;
    /// event::run(async {
    ///     let server = UdpSocket::bind("127.0.0.1:0")?;
    ///     let client = UdpSocket::bind("127.0.0.1:0")?;
    ///     client.send_to(b"one", server.local_address()).await?;
    ///     client.send_to(b"two", server.local_address()).await?;
    ///     let mut datagrams = server.datagrams(1500);
    ///     let (first, _) = datagrams.next().await.unwrap()?;
    ///     let (second, from) = datagrams.next().await.unwrap()?;
    ///     assert_eq!((first, second), (b"one".to_vec(), b"two".to_vec()));
    ///     assert_eq!(from, client.local_address());
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn datagrams(&self, max_len: usize) -> Datagrams<'_> {
        self.core.datagrams(max_len)
    }

    default_timeouts!(core: set_recv_timeout, recv_timeout, "receive"; set_send_timeout, send_timeout, "send");

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.core.dgram.io())
    }

    /// `SO_BROADCAST`: allows sends to a broadcast address (`255.255.255.255`, a subnet's).
    pub fn set_broadcast(&self, on: bool) -> Result<(), SocketError> {
        self.sock()
            .set_broadcast(on)
            .map_err(io_err("set SO_BROADCAST"))
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> Result<bool, SocketError> {
        self.sock().broadcast().map_err(io_err("get SO_BROADCAST"))
    }

    /// Joins the IPv4 multicast group `group` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the system picks one).
    pub fn join_multicast_v4(
        &self,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), SocketError> {
        self.sock()
            .join_multicast_v4(&group, &interface)
            .map_err(io_err("join IPv4 multicast group"))
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    pub fn leave_multicast_v4(
        &self,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), SocketError> {
        self.sock()
            .leave_multicast_v4(&group, &interface)
            .map_err(io_err("leave IPv4 multicast group"))
    }

    /// Joins the IPv6 multicast group `group` on the interface with index `interface` (0: the
    /// system picks one).
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> Result<(), SocketError> {
        self.sock()
            .join_multicast_v6(&group, interface)
            .map_err(io_err("join IPv6 multicast group"))
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> Result<(), SocketError> {
        self.sock()
            .leave_multicast_v6(&group, interface)
            .map_err(io_err("leave IPv6 multicast group"))
    }

    /// The time-to-live of unicast datagrams: `IP_TTL` on an IPv4 socket, the unicast hop
    /// limit (`IPV6_UNICAST_HOPS`) on an IPv6 one.
    pub fn set_ttl(&self, ttl: u32) -> Result<(), SocketError> {
        if self.core.local.is_ipv6() {
            self.sock().set_unicast_hops_v6(ttl)
        } else {
            self.sock().set_ttl_v4(ttl)
        }
        .map_err(io_err("set TTL"))
    }

    /// The time-to-live of unicast datagrams (see [`set_ttl`](UdpSocket::set_ttl)).
    pub fn ttl(&self) -> Result<u32, SocketError> {
        if self.core.local.is_ipv6() {
            self.sock().unicast_hops_v6()
        } else {
            self.sock().ttl_v4()
        }
        .map_err(io_err("get TTL"))
    }

    /// `IP_MULTICAST_TTL`: how many hops IPv4 multicast datagrams go (1, the default, stays on
    /// the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> Result<(), SocketError> {
        self.sock()
            .set_multicast_ttl_v4(ttl)
            .map_err(io_err("set IP_MULTICAST_TTL"))
    }

    /// `IPV6_MULTICAST_HOPS`: how many hops IPv6 multicast datagrams go.
    pub fn set_multicast_hops_v6(&self, hops: u32) -> Result<(), SocketError> {
        self.sock()
            .set_multicast_hops_v6(hops)
            .map_err(io_err("set IPV6_MULTICAST_HOPS"))
    }

    /// `IP_MULTICAST_LOOP`: whether IPv4 multicast datagrams we send come back to our own
    /// sockets on this host (on by default).
    pub fn set_multicast_loop_v4(&self, on: bool) -> Result<(), SocketError> {
        self.sock()
            .set_multicast_loop_v4(on)
            .map_err(io_err("set IP_MULTICAST_LOOP"))
    }

    /// `IPV6_MULTICAST_LOOP`: as [`set_multicast_loop_v4`](UdpSocket::set_multicast_loop_v4)
    /// for IPv6.
    pub fn set_multicast_loop_v6(&self, on: bool) -> Result<(), SocketError> {
        self.sock()
            .set_multicast_loop_v6(on)
            .map_err(io_err("set IPV6_MULTICAST_LOOP"))
    }

    /// Whether an IPv6 socket receives IPv6 only (`IPV6_V6ONLY`; set it with
    /// [`UdpOptions::ipv6_only`] before binding).
    pub fn ipv6_only(&self) -> Result<bool, SocketError> {
        self.sock().only_v6().map_err(io_err("get IPV6_V6ONLY"))
    }

    /// An IPv4 destination from an IPv6 (dual-stack) socket goes to its IPv4-mapped address
    /// (`::ffff:a.b.c.d`), which is how such a socket reaches IPv4 peers.
    #[inline]
    fn reachable(&self, to: SocketAddr) -> SocketAddr {
        match (self.core.local.to_std(), to) {
            (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
                SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0).into()
            }
            _ => to,
        }
    }
}

impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.core.dgram.io().as_fd()
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.core.dgram.io().as_raw_fd()
    }
}
