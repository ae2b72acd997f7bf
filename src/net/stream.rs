//! `Socket`: a connected TCP stream.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::conn::sealed::Kind;
use super::conn::{Conn, stream_io_methods};
use super::target::{Target, resolve_host};
use super::{ServerSocket, SocketAddress, SocketError};
use crate::driver::Stream;
use crate::event_loop;

/// A connected TCP socket on an event loop.
///
/// Reads and writes take `&self`, so one task can read while another writes (share the socket
/// with an `Rc`). Several tasks may also write (or read) at once, a chat server's fan-out say:
/// their operations take turns in the order they started, and each `write` goes out whole,
/// never interleaved with another's bytes. (The `AsyncRead`/`AsyncWrite` impls on `&Socket`
/// wait for the turn to be free too, but a trait write is only as atomic as one `poll_write`.)
///
/// A socket stays on the loop of the thread it was made on: it is not `Send` (nor `Sync`), so
/// it cannot be moved to another thread; hand another loop `Send` work through its
/// [`LoopHandle`](crate::LoopHandle) instead (see [the crate docs](crate#sockets-and-tasks-stay-on-their-loop)).
///
/// ```
/// use event::Socket;
/// event::run(async {
///     let server = Socket::listen_on(event::SocketAddress::localhost(0))?;
///     let addr = server.local_address();
///     let echo = event::spawn(async move {
///         let peer = server.accept().await?;
///         let bytes = peer.read(1024).await?;
///         peer.write(&bytes).await
///     });
///     let client = Socket::connect(addr).await?;
///     client.write(b"hello").await?;
///     assert_eq!(client.read(1024).await?, b"hello");
///     echo.await.unwrap()
/// })?;
/// # Ok::<(), event::SocketError>(())
/// ```
pub struct Socket {
    pub(crate) conn: Conn<Socket>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("local", &self.conn.stream.io().local_addr().ok())
            .field("peer", &self.conn.addr)
            .finish()
    }
}

impl Kind for Socket {
    type Io = mio::net::TcpStream;
    type Listen = mio::net::TcpListener;
    type Addr = SocketAddr;

    fn accept(listen: &Self::Listen, _: &SocketAddr) -> io::Result<(Self::Io, SocketAddr)> {
        listen.accept()
    }

    fn adopt(
        fd: std::os::fd::OwnedFd,
        _: &SocketAddr,
        peer: Option<SocketAddr>,
    ) -> io::Result<(Self::Io, SocketAddr)> {
        let std = std::net::TcpStream::from(fd);
        if let Some(peer) = peer {
            return Ok((mio::net::TcpStream::from_std(std), peer));
        }
        match std.peer_addr() {
            Ok(peer) => Ok((mio::net::TcpStream::from_std(std), peer)),
            // Reset before it was taken: skipped, as `accept4` skips it.
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                Err(io::Error::from_raw_os_error(libc::ECONNABORTED))
            }
            Err(e) => Err(e),
        }
    }

    fn wrap(conn: Conn<Socket>) -> Socket {
        Socket { conn }
    }

    fn read_error(peer: &SocketAddr, source: io::Error) -> SocketError {
        SocketError::Read {
            peer: *peer,
            source,
        }
    }

    fn write_error(peer: &SocketAddr, written: usize, source: io::Error) -> SocketError {
        SocketError::Write {
            peer: *peer,
            written,
            source,
        }
    }

    fn timeout(
        op: &'static str,
        addr: &SocketAddr,
        after: Duration,
        written: usize,
    ) -> SocketError {
        match op {
            "write" => SocketError::write_timeout(*addr, after, written),
            "accept" => SocketError::accept_timeout(*addr, after),
            _ => SocketError::read_timeout(*addr, after),
        }
    }

    fn accept_error(local: &SocketAddr, source: io::Error) -> SocketError {
        SocketError::Accept {
            addr: *local,
            source,
        }
    }
}

impl Socket {
    /// Listens on every IPv4 interface at `port` (the kernel's largest backlog, `SO_REUSEADDR`), like the Swift
    /// library's `listen(port:)`. Port 0 picks a free port. See [`ListenOptions`](crate::ListenOptions)
    /// for more control.
    ///
    /// ```
    /// let server = event::Socket::listen(0)?;
    /// assert_ne!(server.local_port(), 0);
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn listen(port: u16) -> Result<ServerSocket, SocketError> {
        super::ListenOptions::new().listen_on(SocketAddress::any_ipv4(port))
    }

    /// Listens on one address, IPv4 or IPv6, given in any form `connect` takes (text, a
    /// `SocketAddr`, a [`SocketAddress`], `(ip, port)`: see [`ToListenAddress`](crate::ToListenAddress)).
    ///
    /// ```
    /// let server = event::Socket::listen_on("127.0.0.1:0")?;
    /// assert!(server.local_address().ip().is_loopback());
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn listen_on(addr: impl crate::ToListenAddress) -> Result<ServerSocket, SocketError> {
        super::ListenOptions::new().listen_on(addr)
    }

    /// Connects to `target`: an address, or a `"host:port"` name (resolved on a helper thread,
    /// each address tried in turn).
    ///
    /// The connect is non-blocking (on io_uring one connect operation on the ring, on epoll a
    /// `connect` whose outcome is checked with `SO_ERROR`), and a refused connection fails
    /// here, not at the first read.
    ///
    /// ```
    /// use event::{Socket, SocketError};
    ///
    /// event::run(async {
    ///     let server = Socket::listen_on("127.0.0.1:0")?;
    ///     // Text, a SocketAddr, a SocketAddress, (host, port) or a "host:port" name.
    ///     let client = Socket::connect(server.local_address()).await?;
    ///     let accepted = server.accept().await?;
    ///     assert_eq!(client.peer_address(), server.local_address());
    ///     # drop(accepted);
    ///     // Nobody listens on the port any more: refused, at connect.
    ///     let port = server.local_port();
    ///     drop(server);
    ///     let refused = Socket::connect(("127.0.0.1", port)).await.unwrap_err();
    ///     assert!(matches!(refused, SocketError::Connect { .. }), "{refused}");
    ///     # drop(client);
    ///     Ok::<(), SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub async fn connect(target: impl Into<Target>) -> Result<Socket, SocketError> {
        let target = target.into();
        let core = event_loop::current().ok_or(SocketError::NoEventLoop)?;
        let addrs = match &target {
            Target::Address(a) => vec![*a],
            Target::Host(host) => resolve_host(host).await?,
        };
        let mut last = None;
        for addr in addrs {
            match Stream::connect(&core, addr).await {
                Ok(stream) => return Ok(Socket::from_stream(stream, addr)),
                Err(source) => last = Some(SocketError::Connect { addr, source }),
            }
        }
        Err(last.unwrap_or(SocketError::InvalidAddress {
            input: target.to_string(),
            reason: "the name resolved to no address",
        }))
    }

    /// [`connect`](Socket::connect) with a time limit on the whole attempt (resolution included).
    /// Past it, [`SocketError::ConnectTimeout`] names the target and the limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use event::Socket;
    ///
    /// event::run(async {
    ///     let server = Socket::listen_on("127.0.0.1:0")?;
    ///     let client = Socket::connect_timeout(server.local_address(), Duration::from_secs(2)).await?;
    ///     # drop(client);
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub async fn connect_timeout(
        target: impl Into<Target>,
        timeout: Duration,
    ) -> Result<Socket, SocketError> {
        let target = target.into();
        let text = target.to_string();
        match crate::timeout(timeout, Socket::connect(target)).await {
            Ok(r) => r,
            Err(_) => Err(SocketError::ConnectTimeout {
                target: text,
                after: timeout,
            }),
        }
    }

    fn from_stream(stream: Stream, peer: SocketAddr) -> Socket {
        Socket {
            conn: Conn::new(stream, peer),
        }
    }

    pub(crate) fn conn(&self) -> &Conn<Socket> {
        &self.conn
    }

    stream_io_methods! {
        Socket;
        /// Reads at most `max_bytes`, waiting until at least one byte is there.
        ///
        /// The peer's orderly close is [`SocketError::ConnectionClosed`]. Add a time limit with
        /// [`Read::timeout`](crate::Read::timeout) or [`set_read_timeout`](Socket::set_read_timeout); a read that times out
        /// has consumed nothing.
        ///
        /// ```
        /// use std::time::Duration;
        /// use event::{Socket, SocketError};
        ///
        /// event::run(async {
        ///     let server = Socket::listen_on("127.0.0.1:0")?;
        ///     let client = Socket::connect(server.local_address()).await?;
        ///     let peer = server.accept().await?;
        ///     client.write(b"hello").await?;
        ///     assert_eq!(peer.read(3).await?, b"hel"); // at most max_bytes
        ///     assert_eq!(peer.read(4096).await?, b"lo");
        ///     // Nothing more within 10 ms: a timeout, and the socket stays usable.
        ///     let idle = peer.read(4096).timeout(Duration::from_millis(10)).await;
        ///     assert!(idle.unwrap_err().is_timeout());
        ///     drop(client);
        ///     assert!(matches!(peer.read(4096).await, Err(SocketError::ConnectionClosed)));
        ///     Ok::<(), SocketError>(())
        /// })?;
        /// # Ok::<(), event::SocketError>(())
        /// ```
        read;
        /// Reads into `buf` without allocating; returns how many bytes were read (at least one,
        /// unless `buf` is empty).
        read_into;
        /// Appends at most `max_bytes` to `buf` and returns how many arrived (at least one).
        ///
        /// Reusing one `Vec` across reads makes a read loop allocation-free once the vector has grown
        /// to the size of a message, while an idle connection holds no buffer at all:
        ///
        /// ```
        /// # use event::{Socket, SocketError};
        /// async fn echo(client: Socket) -> Result<(), SocketError> {
        ///     let mut buf = Vec::new();
        ///     loop {
        ///         buf.clear();
        ///         client.read_buf(&mut buf, 64 * 1024).await?;
        ///         client.write(&buf).await?;
        ///     }
        /// }
        /// ```
        read_buf;
        /// Writes every byte of `bytes`, resuming after partial writes and waiting for the peer to
        /// make room (so a peer that does not read slows the writer instead of growing a buffer).
        ///
        /// On a timeout ([`Write::timeout`](crate::Write::timeout) or [`set_write_timeout`](Socket::set_write_timeout): the
        /// peer took no byte for that long) the error says how many bytes went out. Never raises
        /// `SIGPIPE`.
        ///
        /// ```
        /// use std::time::Duration;
        /// use event::Socket;
        ///
        /// event::run(async {
        ///     let server = Socket::listen_on("127.0.0.1:0")?;
        ///     let client = Socket::connect(server.local_address()).await?;
        ///     let peer = server.accept().await?;
        ///     client.write(b"ping").await?; // every byte, or an error
        ///     client.write(b"pong").timeout(Duration::from_secs(1)).await?;
        ///     let mut got = Vec::new();
        ///     while got.len() < 8 {
        ///         got.extend(peer.read(8 - got.len()).await?);
        ///     }
        ///     assert_eq!(got, b"pingpong");
        ///     Ok::<(), event::SocketError>(())
        /// })?;
        /// # Ok::<(), event::SocketError>(())
        /// ```
        ///
        /// On io_uring the write is write-behind: bytes count as written once the driver has copied
        /// them into its own buffer (at most 256 KiB at a time, one buffer in flight per socket, so
        /// backpressure holds), and the write returns without waiting for the kernel; the send goes
        /// out with the loop's next wait. A later failure of that send is reported by the next write
        /// (as the kernel's own socket buffer would); [`shutdown_write`](Socket::shutdown_write)
        /// and dropping the socket let it finish first.
        ///
        /// Either way, a byte counted as written reaches the peer, or the peer sees a reset: never
        /// a clean end of stream after missing bytes. A dropped socket's bytes keep going while the
        /// peer takes them; if it takes none for the loop's
        /// [`linger_timeout`](crate::Builder::linger_timeout) (60 s; a loop being dropped waits at
        /// most 2 s without progress), or at the deadline of a [`Shutdown::drain`](crate::Shutdown::drain),
        /// what is left goes to the kernel's socket buffer as on epoll, and if it does not fit, the
        /// connection is reset. As on epoll, dropping a socket
        /// with received bytes nobody read resets the connection, which discards whatever the
        /// kernel has not delivered yet (see [`close`](Socket::close)).
        ///
        /// Several tasks may write to one socket: their writes take turns in the order they
        /// started, and each one's bytes go out contiguous.
        write;
        /// Writes every byte of `buf`, handing the vector over instead of lending bytes, and gives
        /// back an empty vector for the next message. On io_uring the driver sends straight from
        /// your vector, write-behind (no copy), and hands you the connection's previous send
        /// buffer, empty, whose capacity is whatever it had; on epoll you get your own vector back, cleared. On an error or
        /// a timeout the vector comes back unchanged and the error says how many of its bytes went
        /// out.
        ///
        /// ```
        /// # use event::{Socket, SocketError};
        /// async fn echo(client: Socket) -> Result<(), SocketError> {
        ///     let mut buf = Vec::new();
        ///     loop {
        ///         client.read_buf(&mut buf, 64 * 1024).await?;
        ///         let (result, empty) = client.write_owned(buf).await;
        ///         result?;
        ///         buf = empty;
        ///     }
        /// }
        /// ```
        write_owned;
        /// Closes the write side (half-close): the peer reads end-of-stream once it has read
        /// everything written before, and can still send to us.
        shutdown_write;
        /// Closes the socket. The descriptor is closed exactly once, here (dropping does the same).
        ///
        /// If bytes were received that nobody read, the peer gets a reset (RST) instead of an
        /// orderly end of stream, as a kernel does for a close with unread data, on either driver.
        ///
        /// Bytes already written still go out, then the orderly end of stream. On io_uring they may
        /// still be in the driver's send buffer: they are sent while the peer takes them, and if it
        /// takes none for the loop's [`linger_timeout`](crate::Builder::linger_timeout), or the loop
        /// is dropped, whatever does not fit in the kernel's socket buffer is given up with a reset
        /// (see [`write`](Socket::write)), so the peer can always tell a stream that was cut short.
        close;
    }

    /// Reads into `buf`, which may be uninitialised, with no intermediate copy: what hyper's
    /// `ReadBufCursor` and tokio's `ReadBuf` hand out. `Ok(n)` means the first `n` elements of
    /// `buf` are now initialised (and `n <= buf.len()`); `Ok(0)` is end of stream (or an empty
    /// `buf`). Like the futures-io read, it takes the socket's read turn, counts against the
    /// task's cooperative budget and fails with `io::ErrorKind::TimedOut` after waiting longer
    /// than the socket's read timeout. On epoll the bytes are received straight into `buf`; on
    /// io_uring they are copied once from the connection's inbox, as every read there is.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::mem::MaybeUninit;
    /// use event::{Socket, SocketAddress};
    ///
    /// event::run(async {
    ///     let server = Socket::listen_on(SocketAddress::localhost(0))?;
    ///     let client = Socket::connect(server.local_address()).await?;
    ///     let accepted = server.accept().await?;
    ///     client.write(b"hello").await?;
    ///     let mut buf = [MaybeUninit::<u8>::uninit(); 16];
    ///     let n = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf)).await?;
    ///     assert!(n > 0 && n <= 5);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_read_uninit(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.conn.poll_read_uninit(cx, buf)
    }

    default_timeouts!(conn: set_read_timeout, read_timeout, "read"; set_write_timeout, write_timeout, "write");

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm): small writes go out at once.
    pub fn set_nodelay(&self, nodelay: bool) -> Result<(), SocketError> {
        // The listener's `ListenOptions::nodelay` may still be queued on the ring: it runs
        // first, so this call's value is the one that stays.
        self.conn.stream.settle_queued_options();
        self.conn
            .stream
            .io()
            .set_nodelay(nodelay)
            .map_err(|source| SocketError::Io {
                op: "set TCP_NODELAY",
                source,
            })
    }

    /// The local address of the connection.
    pub fn local_address(&self) -> Result<SocketAddress, SocketError> {
        self.conn
            .stream
            .io()
            .local_addr()
            .map(SocketAddress::from)
            .map_err(|source| SocketError::Io {
                op: "getsockname",
                source,
            })
    }

    /// The peer's address.
    pub fn peer_address(&self) -> SocketAddress {
        self.conn.addr.into()
    }
}

impl std::os::fd::AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.conn.stream.io().as_fd()
    }
}

impl std::os::fd::AsRawFd for Socket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.conn.stream.io().as_raw_fd()
    }
}
