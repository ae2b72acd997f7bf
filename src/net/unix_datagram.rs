//! `UnixDatagram`: a Unix-domain datagram socket (a path, an abstract name, unbound, or one
//! end of a socket pair), and `UnixDatagramOptions` to bind one. Its futures are UDP's
//! (net/datagram_ops.rs), generic over the socket type.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use socket2::{Domain, SockAddr, Type};

use super::datagram::{DatagramCore, sealed::Kind};
use super::unix::unix_error;
use super::unix_path::{FilePolicy, SocketFile, file_policy_builders};
use super::{
    Datagrams, PeerCredentials, Recv, RecvFrom, SendDatagram, SendTo, SocketError, UnixAddress,
};

/// Options for binding a [`UnixDatagram`]: what to do about a stale socket file, and whether
/// the socket removes its file when it closes (as [`UnixListenOptions`](crate::UnixListenOptions)
/// for listeners).
///
/// ```
/// let path = std::env::temp_dir().join(format!("event-doc-dgram-opts-{}.sock", std::process::id()));
/// let socket = event::UnixDatagramOptions::new()
///     .replace_stale(true) // a file left by a crashed run is replaced, after a check
///     .bind(&path)?;
/// assert_eq!(socket.local_address().as_path(), Some(path.as_path()));
/// drop(socket); // removes the socket file
/// assert!(!path.exists());
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct UnixDatagramOptions {
    file: FilePolicy,
}

impl UnixDatagramOptions {
    /// A stale socket file is an error ([`SocketError::StaleSocketFile`]), and the file is
    /// removed when the socket closes.
    pub fn new() -> UnixDatagramOptions {
        UnixDatagramOptions::default()
    }

    file_policy_builders!();

    /// Binds a datagram socket to `address` (a path, or `"@name"` for an abstract name). It
    /// can be called before the loop runs; the socket joins the loop of its first operation.
    /// The errors are the listener's: a path too long ([`SocketError::UnixPathTooLong`]), a
    /// directory that does not exist or may not be written, a stale file, a path in use.
    pub fn bind(&self, address: impl Into<UnixAddress>) -> Result<UnixDatagram, SocketError> {
        let address = address.into();
        let (socket, file) = self.file.bind(Type::DGRAM, &address)?;
        Ok(UnixDatagram::new(socket, address, file))
    }
}

/// A Unix-domain datagram socket on an event loop: the counterpart of std's and tokio's
/// `UnixDatagram`, with [`UdpSocket`](crate::UdpSocket)'s operations (`recv_from`/`send_to`,
/// `connect` then `recv`/`send`, `.timeout(d)` on each, default timeouts, turns between tasks
/// sharing it, [`datagrams`](UnixDatagram::datagrams)).
///
/// A datagram larger than the buffer is never cut silently: the receive fails with
/// [`SocketError::UnixTruncated`], which carries its full length. Unix datagrams can be as large
/// as the sender's `SO_SNDBUF` allows (212,960 bytes with Linux's default 212,992-byte buffer);
/// a larger one fails to send with `EMSGSIZE`. A receive that times out or is dropped has
/// consumed nothing. Unlike std's, a socket bound to a path removes its socket file when it is
/// dropped (see [`UnixDatagramOptions::remove_on_close`]).
///
/// ```
/// use event::{SocketError, UnixAddress, UnixDatagram};
///
/// event::run(async {
///     let name = format!("@event-doc-dgram-{}", std::process::id());
///     let server = UnixDatagram::bind(name.as_str())?;
///     let client = UnixDatagram::unbound()?;
///     client.send_to(b"ping", name.as_str()).await?;
///     let mut buf = [0; 1024];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], &from), (&b"ping"[..], &UnixAddress::Unnamed));
///
///     let (a, b) = UnixDatagram::pair()?;
///     a.send(b"hi").await?;
///     assert_eq!(b.recv(&mut buf).await?, 2);
///     Ok::<(), SocketError>(())
/// })?;
/// # Ok::<(), SocketError>(())
/// ```
///
/// Both drivers serve it through the readiness reactor (see ARCHITECTURE.md).
pub struct UnixDatagram {
    /// Declared before `_file`: the descriptor closes before its file is removed.
    core: DatagramCore<UnixDatagram>,
    _file: Option<SocketFile>,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("UnixDatagram", f)
    }
}

impl Kind for UnixDatagram {
    type Io = mio::net::UnixDatagram;
    type Address = UnixAddress;
    const RECV_UNCONNECTED: &'static str =
        "recv on an unconnected Unix datagram socket (connect first, or use recv_from)";
    const SEND_UNCONNECTED: &'static str =
        "send on an unconnected Unix datagram socket (connect first, or use send_to)";

    #[inline]
    fn sender(from: std::os::unix::net::SocketAddr) -> UnixAddress {
        UnixAddress::from_std(&from)
    }

    fn name_of(to: &SockAddr) -> UnixAddress {
        UnixAddress::from_sockaddr(to)
    }

    fn truncated(from: UnixAddress, len: usize, capacity: usize) -> SocketError {
        SocketError::UnixTruncated {
            peer: from,
            len,
            capacity,
        }
    }

    fn recv_error(
        local: &UnixAddress,
        peer: Option<&UnixAddress>,
        source: io::Error,
    ) -> SocketError {
        unix_error("recv", named(local, peer), source)
    }

    fn recv_timeout(
        local: &UnixAddress,
        peer: Option<&UnixAddress>,
        after: Duration,
    ) -> SocketError {
        SocketError::UnixTimeout {
            op: "recv",
            address: named(local, peer).clone(),
            after,
            written: 0,
        }
    }

    fn send_error(to: UnixAddress, _len: usize, source: io::Error) -> SocketError {
        unix_error("send", &to, source)
    }

    fn send_timeout(to: UnixAddress, after: Duration) -> SocketError {
        SocketError::UnixTimeout {
            op: "send",
            address: to,
            after,
            written: 0,
        }
    }
}

/// What a receive's error names: the socket's own address, or its peer's if it has none.
fn named<'a>(local: &'a UnixAddress, peer: Option<&'a UnixAddress>) -> &'a UnixAddress {
    match (local, peer) {
        (UnixAddress::Unnamed, Some(peer)) => peer,
        _ => local,
    }
}

impl UnixDatagram {
    /// Binds a datagram socket to `address`: a path (`"/run/app.sock"`, a `Path`) or an
    /// abstract name (`"@app"`, [`UnixAddress::abstract_name`]), with
    /// [`UnixDatagramOptions`]' defaults (a stale socket file is an error; the file is removed
    /// when the socket closes).
    pub fn bind(address: impl Into<UnixAddress>) -> Result<UnixDatagram, SocketError> {
        UnixDatagramOptions::new().bind(address)
    }

    /// A socket bound to no address: it can send (its datagrams arrive from
    /// [`UnixAddress::Unnamed`], so nobody can answer them) and receive once connected.
    pub fn unbound() -> Result<UnixDatagram, SocketError> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::DGRAM.nonblocking().cloexec(), None)
            .map_err(|source| SocketError::Io {
                op: "socket",
                source,
            })?;
        Ok(UnixDatagram::new(socket, UnixAddress::Unnamed, None))
    }

    /// Two connected, unnamed datagram sockets (`socketpair(2)`): what one sends the other
    /// receives, each datagram whole. They can be made before the loop runs.
    pub fn pair() -> Result<(UnixDatagram, UnixDatagram), SocketError> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::DGRAM.nonblocking().cloexec(), None)
            .map_err(|source| SocketError::Io {
                op: "socketpair",
                source,
            })?;
        let (a, b) = (
            UnixDatagram::new(a, UnixAddress::Unnamed, None),
            UnixDatagram::new(b, UnixAddress::Unnamed, None),
        );
        *a.core.peer.borrow_mut() = Some(UnixAddress::Unnamed);
        *b.core.peer.borrow_mut() = Some(UnixAddress::Unnamed);
        Ok((a, b))
    }

    fn new(socket: socket2::Socket, local: UnixAddress, file: Option<SocketFile>) -> UnixDatagram {
        let io = mio::net::UnixDatagram::from_std(OwnedFd::from(socket).into());
        UnixDatagram {
            core: DatagramCore::new(io, local),
            _file: file,
        }
    }

    /// Sets the socket's peer (`connect(2)`; nothing is sent):
    /// [`send`](UnixDatagram::send) goes there and [`recv`](UnixDatagram::recv) takes
    /// datagrams from it only. Fails at once if nobody is bound at `address` ("is the server
    /// running?"); a peer that closes later fails the next `send` with `ConnectionRefused`.
    pub fn connect(&self, address: impl Into<UnixAddress>) -> Result<(), SocketError> {
        let address = address.into();
        let sockaddr = address.to_sockaddr()?;
        self.core
            .connect(&sockaddr, address.clone())
            .map_err(|e| unix_error("connect", &address, e))
    }

    /// Receives one datagram into `buf`, without allocating: its length and its sender
    /// ([`UnixAddress::Unnamed`] for an unbound one).
    ///
    /// A datagram longer than `buf` fails with [`SocketError::UnixTruncated`] (`buf` then holds
    /// its first `buf.len()` bytes; the error carries the full length). Add a time limit with
    /// [`RecvFrom::timeout`]; a receive that times out or is dropped consumed nothing.
    pub fn recv_from<'a>(&'a self, buf: &'a mut [u8]) -> RecvFrom<'a, UnixDatagram> {
        self.core.recv_from(buf)
    }

    /// Receives one datagram from the connected peer (see [`connect`](UnixDatagram::connect),
    /// [`pair`](UnixDatagram::pair)) into `buf`: its length. Truncation and timeouts as for
    /// [`recv_from`](UnixDatagram::recv_from).
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> Recv<'a, UnixDatagram> {
        self.core.recv(buf)
    }

    /// Sends `buf` as one datagram to `address`: its length once the kernel took it (a
    /// receiver whose queue is full is waited for). Never raises `SIGPIPE`. Nobody bound at
    /// `address` fails it with [`SocketError::Unix`] (`ENOENT`, `ECONNREFUSED`), a datagram
    /// over the send buffer with `EMSGSIZE`, an address too long with
    /// [`SocketError::UnixPathTooLong`].
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        address: impl Into<UnixAddress>,
    ) -> SendTo<'a, UnixDatagram> {
        match address.into().to_sockaddr() {
            Ok(to) => self.core.send_to(buf, Some(to)),
            Err(e) => self.core.send_to(buf, None).fail_with(e),
        }
    }

    /// Sends `buf` as one datagram to the connected peer; as
    /// [`send_to`](UnixDatagram::send_to) otherwise.
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> SendDatagram<'a, UnixDatagram> {
        self.core.send(buf)
    }

    /// The received datagrams as a [`futures_core::Stream`] (with an inherent `next()`): each
    /// item is a datagram of at most `max_len` bytes and its sender, or the error of one
    /// receive; the stream never ends by itself.
    pub fn datagrams(&self, max_len: usize) -> Datagrams<'_, UnixDatagram> {
        self.core.datagrams(max_len)
    }

    default_timeouts!(core: set_recv_timeout, recv_timeout, "receive"; set_send_timeout, send_timeout, "send");

    /// The address the socket is bound to ([`UnixAddress::Unnamed`] if none).
    pub fn local_address(&self) -> UnixAddress {
        self.core.local.clone()
    }

    /// The peer set by [`connect`](UnixDatagram::connect) (a socket pair's is
    /// [`UnixAddress::Unnamed`]), if any.
    pub fn peer_address(&self) -> Option<UnixAddress> {
        self.core.peer.borrow().clone()
    }

    /// The process, user and group at the other end of a socket pair (`SO_PEERCRED`). The
    /// kernel records credentials for [`pair`](UnixDatagram::pair) only: any other datagram
    /// socket fails with `NotConnected` (a connected one too: `connect` records none).
    pub fn peer_credentials(&self) -> Result<PeerCredentials, SocketError> {
        let fail = |e| unix_error("peer credentials", &self.core.local, e);
        let (pid, uid, gid) = crate::driver::peer_cred(self.core.dgram.io()).map_err(fail)?;
        if pid == 0 {
            return Err(fail(io::Error::new(
                io::ErrorKind::NotConnected,
                "no peer credentials: the kernel records them for a socket pair only",
            )));
        }
        Ok(PeerCredentials { pid, uid, gid })
    }
}

impl std::os::fd::AsFd for UnixDatagram {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.core.dgram.io().as_fd()
    }
}

impl std::os::fd::AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.core.dgram.io().as_raw_fd()
    }
}
