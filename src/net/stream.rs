//! `Socket`: a connected TCP stream.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, Read as _};
use std::net::{Shutdown, SocketAddr};

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use socket2::SockRef;

use super::io_traits::TraitOps;
use super::listener::Permit;
use super::op::{OpPoll, OpState};
use super::turn::{Ticket, Turn};
use super::{ServerSocket, SocketAddress, SocketError, resolve};
use crate::event_loop::{self, Core};
use crate::executor::coop;
use crate::reactor::{Direction, Registration};

/// Flags for `send(2)`: never raise SIGPIPE on a reset peer (Apple platforms use SO_NOSIGPIPE,
/// set when the socket is created).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
const SEND_FLAGS: libc::c_int = 0;

/// The most slices one `sendmsg` takes (POSIX's minimum for `IOV_MAX`, Linux's value).
const IOV_MAX: usize = 1024;

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
    /// How operations reach the kernel. Declared before `io`: the io_uring side cancels its
    /// operations before the descriptor closes.
    drv: Driver,
    io: mio::net::TcpStream,
    peer: SocketAddr,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    /// Holds a place under the listener's connection limit until the socket is dropped.
    _permit: Option<Permit>,
    /// Timeout state for the `AsyncRead`/`AsyncWrite` impls, made on first use with a timeout.
    trait_ops: RefCell<Option<Box<TraitOps>>>,
    /// One read and one write at a time, in the order they started.
    pub(crate) reading: Turn,
    pub(crate) writing: Turn,
}

/// The driver side of a socket.
pub(crate) enum Driver {
    /// Readiness (epoll, kqueue): system calls when the reactor says the socket is ready.
    Poll(Registration),
    /// Completion (io_uring): a multishot receive into the driver's buffers, queued sends.
    #[cfg(target_os = "linux")]
    Ring(RingIo),
}

/// A connection on the io_uring driver.
#[cfg(target_os = "linux")]
pub(crate) struct RingIo {
    pub(crate) core: Rc<Core>,
    pub(crate) uring: Rc<crate::uring::Uring>,
    pub(crate) conn: crate::uring::Conn,
}

#[cfg(target_os = "linux")]
impl Drop for RingIo {
    fn drop(&mut self) {
        self.conn.close(&self.uring);
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("local", &self.io.local_addr().ok())
            .field("peer", &self.peer)
            .finish()
    }
}

/// Where [`Socket::connect`] should connect: an address, or a `host:port` name resolved off the
/// loop thread.
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
    /// The connect is non-blocking and its outcome is checked with `SO_ERROR`, so a refused
    /// connection fails here, not at the first read.
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
            match connect_addr(&core, addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
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

    pub(crate) fn from_mio(
        core: Rc<Core>,
        mut io: mio::net::TcpStream,
        peer: SocketAddr,
    ) -> io::Result<Socket> {
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        SockRef::from(&io).set_nosigpipe(true)?;
        #[cfg(target_os = "linux")]
        if let Some(uring) = core.uring.clone() {
            use std::os::fd::AsRawFd;
            let conn = crate::uring::Conn::new(io.as_raw_fd());
            return Ok(Socket::from_parts(
                Driver::Ring(RingIo { core, uring, conn }),
                io,
                peer,
            ));
        }
        let reg = Registration::new(core, &mut io)?;
        Ok(Socket::from_parts(Driver::Poll(reg), io, peer))
    }

    fn from_parts(drv: Driver, io: mio::net::TcpStream, peer: SocketAddr) -> Socket {
        Socket {
            drv,
            io,
            peer,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            _permit: None,
            trait_ops: RefCell::new(None),
            reading: Turn::default(),
            writing: Turn::default(),
        }
    }

    pub(crate) fn with_permit(mut self, permit: Permit, idle: Option<Duration>) -> Socket {
        self._permit = Some(permit);
        self.with_idle_timeout(idle)
    }

    pub(crate) fn with_idle_timeout(self, idle: Option<Duration>) -> Socket {
        self.read_timeout.set(idle);
        self.write_timeout.set(idle);
        self
    }

    /// Reads at most `max_bytes`, waiting until at least one byte is there.
    ///
    /// The peer's orderly close is [`SocketError::ConnectionClosed`]. Add a time limit with
    /// [`Read::timeout`] or [`set_read_timeout`](Socket::set_read_timeout); a read that times out
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
    pub fn read(&self, max_bytes: usize) -> Read<'_> {
        Read {
            socket: self,
            max: max_bytes,
            op: OpState::new(self.read_timeout.get()),
        }
    }

    /// Reads into `buf` without allocating; returns how many bytes were read (at least one,
    /// unless `buf` is empty).
    pub fn read_into<'a>(&'a self, buf: &'a mut [u8]) -> ReadInto<'a> {
        ReadInto {
            socket: self,
            buf,
            op: OpState::new(self.read_timeout.get()),
        }
    }

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
    pub fn read_buf<'a>(&'a self, buf: &'a mut Vec<u8>, max_bytes: usize) -> ReadBuf<'a> {
        ReadBuf {
            socket: self,
            buf,
            max: max_bytes,
            op: OpState::new(self.read_timeout.get()),
        }
    }

    /// Writes every byte of `bytes`, resuming after partial writes and waiting for the peer to
    /// make room (so a peer that does not read slows the writer instead of growing a buffer).
    ///
    /// On a timeout ([`Write::timeout`] or [`set_write_timeout`](Socket::set_write_timeout): the
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
    pub fn write<'a>(&'a self, bytes: &'a [u8]) -> Write<'a> {
        Write {
            socket: self,
            buf: bytes,
            written: 0,
            op: OpState::new(self.write_timeout.get()),
            ring: RingWrite::default(),
        }
    }

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
    pub fn write_owned(&self, buf: Vec<u8>) -> WriteOwned<'_> {
        WriteOwned {
            socket: self,
            buf: Some(buf),
            written: 0,
            op: OpState::new(self.write_timeout.get()),
            ring: RingWrite::default(),
        }
    }

    /// Sets the timeout every later read uses unless it gives its own (`None`: wait forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.read_timeout.set(timeout);
    }

    /// The timeout reads use by default.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout.get()
    }

    /// Sets the timeout every later write uses unless it gives its own (`None`: wait forever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.write_timeout.set(timeout);
    }

    /// The timeout writes use by default.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout.get()
    }

    /// Closes the write side (half-close): the peer reads end-of-stream once it has read
    /// everything written before, and can still send to us.
    pub fn shutdown_write(&self) -> Result<(), SocketError> {
        #[cfg(target_os = "linux")]
        if let Driver::Ring(r) = &self.drv
            && r.conn.defer_shutdown()
        {
            // Bytes the traits already reported written are still going out: the shutdown
            // follows them.
            return Ok(());
        }
        self.io
            .shutdown(Shutdown::Write)
            .map_err(|source| SocketError::Io {
                op: "shutdown",
                source,
            })
    }

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
    pub fn close(self) {
        drop(self);
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm): small writes go out at once.
    pub fn set_nodelay(&self, nodelay: bool) -> Result<(), SocketError> {
        self.io
            .set_nodelay(nodelay)
            .map_err(|source| SocketError::Io {
                op: "set TCP_NODELAY",
                source,
            })
    }

    /// The local address of the connection.
    pub fn local_address(&self) -> Result<SocketAddress, SocketError> {
        self.io
            .local_addr()
            .map(SocketAddress::from)
            .map_err(|source| SocketError::Io {
                op: "getsockname",
                source,
            })
    }

    /// The peer's address.
    pub fn peer_address(&self) -> SocketAddress {
        self.peer.into()
    }

    pub(crate) fn driver(&self) -> &Driver {
        &self.drv
    }

    /// Withdraws the waiter of `direction` (its future was dropped or gave up).
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        match &self.drv {
            Driver::Poll(reg) => reg.cancel_wait(direction),
            #[cfg(target_os = "linux")]
            Driver::Ring(r) => match direction {
                Direction::Read => r.conn.cancel_read_wait(),
                Direction::Write => r.conn.cancel_write_wait(),
            },
        }
    }

    #[inline]
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        let n = (&self.io).read(buf)?;
        // A short read drained the socket: the next read could only return EAGAIN. (End of
        // stream stays visible: the reactor keeps the read-closed bit.)
        Ok((n, n < buf.len()))
    }

    pub(crate) fn trait_ops(&self) -> &RefCell<Option<Box<TraitOps>>> {
        &self.trait_ops
    }

    pub(crate) fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<(usize, bool)> {
        // sendmsg refuses more than IOV_MAX slices (EMSGSIZE); send the first ones, as std does.
        let bufs = &bufs[..bufs.len().min(IOV_MAX)];
        let n = SockRef::from(&self.io).send_vectored_with_flags(bufs, SEND_FLAGS)?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        Ok((n, n < total))
    }

    #[inline]
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<(usize, bool)> {
        let n = SockRef::from(&self.io).send_with_flags(buf, SEND_FLAGS)?;
        Ok((n, n < buf.len()))
    }

    /// One poll of a read operation into `buf`, with the native API's errors.
    #[inline]
    fn poll_read_op(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, SocketError>> {
        let reg = match &self.drv {
            Driver::Poll(reg) => reg,
            #[cfg(target_os = "linux")]
            Driver::Ring(r) => {
                return self.poll_read_ring(r, op, cx, buf.len(), |bytes| {
                    buf[..bytes.len()].copy_from_slice(bytes);
                    bytes.len()
                });
            }
        };
        match op.poll(reg, Direction::Read, cx, || self.try_read(buf)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(OpPoll::Done(Ok(n))) if n > 0 => Poll::Ready(Ok(n)),
            Poll::Ready(other) => Poll::Ready(Err(self.read_failure(other))),
        }
    }

    /// What a read that brought no bytes means: end of stream, a timeout or an error. Kept out
    /// of line: the bytes' path only carries a count.
    #[cold]
    #[inline(never)]
    fn read_failure(&self, outcome: OpPoll<usize>) -> SocketError {
        match outcome {
            OpPoll::TimedOut(after) => SocketError::read_timeout(self.peer, after),
            OpPoll::Done(Ok(_)) => SocketError::ConnectionClosed,
            OpPoll::Done(Err(e)) => self.read_error(e),
        }
    }

    /// A read through the loop's scratch buffer; `deliver` gets the bytes that arrived.
    fn poll_read_scratch<R>(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        max: usize,
        deliver: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<R, SocketError>> {
        let reg = match &self.drv {
            Driver::Poll(reg) => reg,
            #[cfg(target_os = "linux")]
            Driver::Ring(r) => return self.poll_read_ring(r, op, cx, max, deliver),
        };
        if !reg.is_ready(Direction::Read) {
            // Nothing to read (the common case right after a message was handled): wait without
            // touching the scratch buffer.
            return match op.wait(reg, Direction::Read, cx) {
                Some(after) => Poll::Ready(Err(SocketError::read_timeout(self.peer, after))),
                None => Poll::Pending,
            };
        }
        let mut scratch = reg.core().scratch.borrow_mut();
        let len = max.min(scratch.len());
        let buf = &mut scratch[..len];
        match op.poll(reg, Direction::Read, cx, || self.try_read(buf)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(OpPoll::Done(Ok(n))) if n > 0 => Poll::Ready(Ok(deliver(&scratch[..n]))),
            Poll::Ready(other) => Poll::Ready(Err(self.read_failure(other))),
        }
    }

    /// A read on the io_uring driver: bytes come from the connection's inbox.
    #[cfg(target_os = "linux")]
    fn poll_read_ring<R>(
        &self,
        r: &RingIo,
        op: &mut OpState,
        cx: &mut Context<'_>,
        max: usize,
        deliver: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<R, SocketError>> {
        self.poll_ring_op(r, op, cx, |cx| r.conn.poll_read(&r.uring, cx, max, deliver))
    }

    /// One poll of a read on the io_uring driver, with the native API's errors and timeout.
    #[cfg(target_os = "linux")]
    fn poll_ring_op<R>(
        &self,
        r: &RingIo,
        op: &mut OpState,
        cx: &mut Context<'_>,
        read: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<crate::uring::ReadOutcome<R>>>,
    ) -> Poll<Result<R, SocketError>> {
        use crate::uring::ReadOutcome;
        match read(cx) {
            Poll::Ready(result) => {
                op.set_waiting(false);
                Poll::Ready(match result {
                    Ok(ReadOutcome::Data(x)) => Ok(x),
                    Ok(ReadOutcome::Eof) => Err(SocketError::ConnectionClosed),
                    Err(e) => Err(self.read_error(e)),
                })
            }
            Poll::Pending => {
                op.set_waiting(true);
                match op.poll_deadline(&r.core, cx) {
                    Some(after) => {
                        op.set_waiting(false);
                        r.conn.cancel_read_wait();
                        Poll::Ready(Err(SocketError::read_timeout(self.peer, after)))
                    }
                    None => Poll::Pending,
                }
            }
        }
    }

    fn read_error(&self, source: io::Error) -> SocketError {
        crate::trace::event!(debug, peer = %self.peer, error = %source, "read failed");
        SocketError::Read {
            peer: self.peer,
            source,
        }
    }
}

impl std::os::fd::AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl std::os::fd::AsRawFd for Socket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.as_raw_fd()
    }
}

async fn resolve_host(host: &str) -> Result<Vec<SocketAddr>, SocketError> {
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

async fn connect_addr(core: &Rc<Core>, addr: SocketAddr) -> Result<Socket, SocketError> {
    let connect_err = |source| SocketError::Connect { addr, source };
    let mut io = mio::net::TcpStream::connect(addr).map_err(connect_err)?;
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    SockRef::from(&io)
        .set_nosigpipe(true)
        .map_err(connect_err)?;
    // The connect completes through the readiness reactor on either driver.
    let reg = Registration::new(core.clone(), &mut io).map_err(connect_err)?;
    poll_fn(|cx| {
        reg.poll_io(cx, Direction::Write, || {
            if let Some(e) = io.take_error()? {
                return Err(e);
            }
            match io.peer_addr() {
                Ok(_) => Ok(((), false)),
                // Not connected yet: a spurious wake-up; wait for the next event.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })
    })
    .await
    .map_err(connect_err)?;
    #[cfg(target_os = "linux")]
    if core.uring.is_some() {
        // From here on the ring serves the connection: take it out of epoll's interest list.
        drop(reg);
        core.reactor
            .registry()
            .deregister(&mut io)
            .map_err(connect_err)?;
        return Socket::from_mio(core.clone(), io, addr).map_err(connect_err);
    }
    Ok(Socket::from_parts(Driver::Poll(reg), io, addr))
}

/// The future of [`Socket::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a> {
    socket: &'a Socket,
    max: usize,
    op: OpState,
}

impl Future for Read<'_> {
    type Output = Result<Vec<u8>, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.max == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        ready!(
            this.socket
                .poll_begin(&this.socket.reading, &mut this.op, cx)
        );
        // Read into the loop's scratch buffer, then copy out exactly what arrived: the result
        // is sized to the data, not to `max_bytes`.
        let r = ready!(
            this.socket
                .poll_read_scratch(&mut this.op, cx, this.max, <[u8]>::to_vec)
        );
        this.socket.reading.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

/// The future of [`Socket::read_into`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadInto<'a> {
    socket: &'a Socket,
    buf: &'a mut [u8],
    op: OpState,
}

impl Future for ReadInto<'_> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(
            this.socket
                .poll_begin(&this.socket.reading, &mut this.op, cx)
        );
        let r = ready!(this.socket.poll_read_op(&mut this.op, cx, this.buf));
        this.socket.reading.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

/// The future of [`Socket::read_buf`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadBuf<'a> {
    socket: &'a Socket,
    buf: &'a mut Vec<u8>,
    max: usize,
    op: OpState,
}

impl Future for ReadBuf<'_> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.max == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(
            this.socket
                .poll_begin(&this.socket.reading, &mut this.op, cx)
        );
        let r = ready!(this.poll_read(cx));
        this.socket.reading.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

impl ReadBuf<'_> {
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, SocketError>> {
        let buf = &mut *self.buf;
        #[cfg(target_os = "linux")]
        if let Driver::Ring(r) = &self.socket.drv {
            let max = self.max;
            return self.socket.poll_ring_op(r, &mut self.op, cx, |cx| {
                r.conn.poll_read_vec(&r.uring, cx, buf, max)
            });
        }
        self.socket
            .poll_read_scratch(&mut self.op, cx, self.max, |bytes| {
                buf.extend_from_slice(bytes);
                bytes.len()
            })
    }
}

/// The future of [`Socket::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a> {
    socket: &'a Socket,
    buf: &'a [u8],
    written: usize,
    op: OpState,
    ring: RingWrite,
}

/// The io_uring side of a write future: the driver's send progress count when last seen.
#[derive(Default)]
struct RingWrite {
    progress: u32,
}

impl Write<'_> {
    /// Gives up with [`SocketError::WriteTimeout`] (saying how many bytes went out) if the peer
    /// takes no byte for `timeout`. The clock restarts whenever bytes go out, so a large write
    /// to a slow but steady reader is not cut: only a stall is.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl Future for Write<'_> {
    type Output = Result<(), SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let socket = this.socket;
        let buf = this.buf;
        ready!(socket.poll_begin(&socket.writing, &mut this.op, cx));
        let r = ready!(match &socket.drv {
            Driver::Poll(reg) => {
                socket.poll_write_ready(reg, cx, buf, &mut this.written, &mut this.op)
            }
            #[cfg(target_os = "linux")]
            Driver::Ring(r) => socket.poll_write_behind(
                r,
                cx,
                buf,
                &mut this.written,
                &mut this.op,
                &mut this.ring,
            ),
        });
        socket.writing.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

/// The future of [`Socket::write_owned`]: the outcome and the vector.
#[must_use = "futures do nothing unless awaited"]
pub struct WriteOwned<'a> {
    socket: &'a Socket,
    /// `None` while the driver holds the vector.
    buf: Option<Vec<u8>>,
    written: usize,
    op: OpState,
    ring: RingWrite,
}

impl WriteOwned<'_> {
    /// As [`Write::timeout`]: gives up if the peer takes no byte for `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl Future for WriteOwned<'_> {
    type Output = (Result<(), SocketError>, Vec<u8>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let socket = this.socket;
        ready!(socket.poll_begin(&socket.writing, &mut this.op, cx));
        let r = ready!(this.poll_write(cx));
        socket.writing.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

impl WriteOwned<'_> {
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<(Result<(), SocketError>, Vec<u8>)> {
        let this = self;
        let socket = this.socket;
        match &socket.drv {
            Driver::Poll(reg) => {
                let buf = this.buf.as_deref().unwrap_or_default();
                match socket.poll_write_ready(reg, cx, buf, &mut this.written, &mut this.op) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        let mut buf = this.buf.take().unwrap_or_default();
                        buf.clear();
                        Poll::Ready((Ok(()), buf))
                    }
                    Poll::Ready(Err(e)) => {
                        Poll::Ready((Err(e), this.buf.take().unwrap_or_default()))
                    }
                }
            }
            #[cfg(target_os = "linux")]
            Driver::Ring(r) => {
                let result = match r.conn.poll_write_owned(&r.uring, cx, &mut this.buf) {
                    Poll::Ready(Ok(())) => Ok(()),
                    Poll::Ready(Err(errno)) => Err(SocketError::Write {
                        peer: socket.peer,
                        written: 0,
                        source: io::Error::from_raw_os_error(errno),
                    }),
                    Poll::Pending => {
                        match socket.ring_write_stalled(r, cx, &mut this.op, &mut this.ring) {
                            Some(after) => Err(SocketError::write_timeout(socket.peer, after, 0)),
                            None => return Poll::Pending,
                        }
                    }
                };
                Poll::Ready((result, this.buf.take().unwrap_or_default()))
            }
        }
    }
}

impl Socket {
    /// The readiness write loop: `send` while the socket is writable, wait for the next edge.
    fn poll_write_ready(
        &self,
        reg: &Registration,
        cx: &mut Context<'_>,
        buf: &[u8],
        written: &mut usize,
        op: &mut OpState,
    ) -> Poll<Result<(), SocketError>> {
        while *written < buf.len() {
            let rest = &buf[*written..];
            match op.poll(reg, Direction::Write, cx, || self.try_write(rest)) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(OpPoll::Done(Ok(n))) if n > 0 => {
                    *written += n;
                    op.progress();
                }
                Poll::Ready(other) => return Poll::Ready(Err(self.write_failure(other, *written))),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// What a send that took no bytes means: a timeout or an error (out of line, as for reads).
    #[cold]
    #[inline(never)]
    fn write_failure(&self, outcome: OpPoll<usize>, written: usize) -> SocketError {
        match outcome {
            OpPoll::TimedOut(after) => SocketError::write_timeout(self.peer, after, written),
            OpPoll::Done(Ok(_)) => SocketError::Write {
                peer: self.peer,
                written,
                source: io::ErrorKind::WriteZero.into(),
            },
            OpPoll::Done(Err(source)) => SocketError::Write {
                peer: self.peer,
                written,
                source,
            },
        }
    }

    /// The io_uring write: chunks go out write-behind (each is copied into a driver buffer and
    /// counts as written once queued; the next waits for the previous send to end), so a write
    /// that fits one chunk completes at once and its send goes to the kernel with the loop's
    /// next wait. A timeout (no send progress for that long) reports the bytes taken so far;
    /// the send in flight goes on, so the stream has no gap.
    #[cfg(target_os = "linux")]
    fn poll_write_behind(
        &self,
        r: &RingIo,
        cx: &mut Context<'_>,
        buf: &[u8],
        written: &mut usize,
        op: &mut OpState,
        ring: &mut RingWrite,
    ) -> Poll<Result<(), SocketError>> {
        while *written < buf.len() {
            let rest = [io::IoSlice::new(&buf[*written..])];
            match r.conn.poll_write_behind(&r.uring, cx, &rest) {
                Poll::Ready(Ok(n)) => {
                    *written += n;
                    op.progress();
                }
                Poll::Ready(Err(errno)) => {
                    return Poll::Ready(Err(SocketError::Write {
                        peer: self.peer,
                        written: *written,
                        source: io::Error::from_raw_os_error(errno),
                    }));
                }
                Poll::Pending => {
                    return match self.ring_write_stalled(r, cx, op, ring) {
                        Some(after) => {
                            Poll::Ready(Err(SocketError::write_timeout(self.peer, after, *written)))
                        }
                        None => Poll::Pending,
                    };
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// A write on io_uring waits for the previous send: restarts the stall clock when the send
    /// made progress, and returns the timeout once it has run out (withdrawing the waiter).
    #[cfg(target_os = "linux")]
    fn ring_write_stalled(
        &self,
        r: &RingIo,
        cx: &mut Context<'_>,
        op: &mut OpState,
        ring: &mut RingWrite,
    ) -> Option<Duration> {
        let progress = r.conn.send_progress();
        if progress != ring.progress {
            ring.progress = progress;
            op.progress();
        }
        let after = op.poll_deadline(&r.core, cx)?;
        r.conn.cancel_write_wait();
        Some(after)
    }

    /// A write future is dropped: withdraw its waiter if it holds the turn (on io_uring, bytes
    /// already taken go out write-behind whatever happens to the future), and give the turn on.
    fn drop_write(&self, op: &mut OpState) {
        let waiting = op.take_waiting();
        if op.ticket == Ticket::Held {
            #[cfg(target_os = "linux")]
            if let Driver::Ring(r) = &self.drv {
                r.conn.cancel_write_wait();
            }
            if waiting {
                self.cancel_wait(Direction::Write);
            }
        }
        self.writing.release(&mut op.ticket);
    }

    /// The start of every poll of an operation: wait for the operation's turn, then charge it
    /// to the task's cooperative budget (yielding, with nothing done, once that is spent).
    #[inline]
    fn poll_begin(&self, turn: &Turn, op: &mut OpState, cx: &mut Context<'_>) -> Poll<()> {
        ready!(turn.poll_take(&mut op.ticket, cx));
        coop::poll_proceed(cx)
    }
}

/// A read future's `.timeout(d)`, and the drop that withdraws its waiter.
macro_rules! read_future_common {
    ($($ty:ident),*) => {$(
        impl $ty<'_> {
            /// Gives up with [`SocketError::Timeout`] if no byte arrives within `timeout`.
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.op.timeout = Some(timeout);
                self
            }
        }

        impl Drop for $ty<'_> {
            fn drop(&mut self) {
                if self.op.take_waiting() {
                    self.socket.cancel_wait(Direction::Read);
                }
                self.socket.reading.release(&mut self.op.ticket);
            }
        }
    )*};
}

read_future_common!(Read, ReadInto, ReadBuf);

impl Drop for Write<'_> {
    fn drop(&mut self) {
        self.socket.drop_write(&mut self.op);
    }
}

impl Drop for WriteOwned<'_> {
    fn drop(&mut self) {
        self.socket.drop_write(&mut self.op);
    }
}
