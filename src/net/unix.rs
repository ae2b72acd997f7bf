//! `UnixSocket`: a connected Unix-domain stream socket (path, abstract name, or socket pair).

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Type};

use super::conn::sealed::Kind;
use super::conn::{Conn, stream_io_methods};
use super::unix_listener::UnixListenIo;
use super::{SocketError, UnixAddress, UnixListenOptions, UnixServerSocket};
use crate::driver::Stream;
use crate::event_loop;

/// A connected Unix-domain stream socket on an event loop: the counterpart of std's
/// `UnixStream` and tokio's `UnixStream`, with the same operations as TCP's
/// [`Socket`](crate::Socket) (reads, writes, `.timeout(d)`, default timeouts, turns between
/// tasks sharing it, the futures-io and tokio-io traits), plus
/// [`peer_credentials`](UnixSocket::peer_credentials).
///
/// ```
/// use event::{UnixSocket, SocketError};
///
/// event::run(async {
///     let (a, b) = UnixSocket::pair()?;
///     a.write(b"ping").await?;
///     assert_eq!(b.read(64).await?, b"ping");
///     assert_eq!(b.peer_credentials()?.pid, std::process::id() as i32);
///     Ok::<(), SocketError>(())
/// })?;
/// # Ok::<(), SocketError>(())
/// ```
pub struct UnixSocket {
    pub(crate) conn: Conn<UnixSocket>,
}

/// Who is at the other end of a Unix-domain socket (`SO_PEERCRED`): the process, user and
/// group the kernel recorded when the connection was made (a listener's peer is the process
/// that called `connect`; a client's peer is the one that called `listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

impl fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSocket")
            .field("address", &self.conn.addr)
            .finish()
    }
}

impl Kind for UnixSocket {
    type Io = mio::net::UnixStream;
    type Listen = UnixListenIo;
    type Addr = Rc<UnixAddress>;

    fn accept(listen: &UnixListenIo, local: &Self::Addr) -> io::Result<(Self::Io, Self::Addr)> {
        // The client is almost always unbound: errors name the listener's address instead.
        listen.io.accept().map(|(io, _)| (io, local.clone()))
    }

    fn adopt(
        fd: std::os::fd::OwnedFd,
        local: &Self::Addr,
        _: Option<std::net::SocketAddr>,
    ) -> io::Result<(Self::Io, Self::Addr)> {
        let std = std::os::unix::net::UnixStream::from(fd);
        Ok((mio::net::UnixStream::from_std(std), local.clone()))
    }

    fn wrap(conn: Conn<UnixSocket>) -> UnixSocket {
        UnixSocket { conn }
    }

    fn read_error(addr: &Self::Addr, source: io::Error) -> SocketError {
        unix_error("read", addr, source)
    }

    fn write_error(addr: &Self::Addr, written: usize, source: io::Error) -> SocketError {
        SocketError::UnixWrite {
            address: (**addr).clone(),
            written,
            source,
        }
    }

    fn timeout(
        op: &'static str,
        addr: &Self::Addr,
        after: Duration,
        written: usize,
    ) -> SocketError {
        SocketError::UnixTimeout {
            op,
            address: (**addr).clone(),
            after,
            written,
        }
    }

    fn accept_error(local: &Self::Addr, source: io::Error) -> SocketError {
        unix_error("accept", local, source)
    }
}

pub(crate) fn unix_error(
    op: &'static str,
    address: &UnixAddress,
    source: io::Error,
) -> SocketError {
    SocketError::Unix {
        op,
        address: address.clone(),
        source,
    }
}

impl UnixSocket {
    /// Listens at `address`: a path (`"/run/app.sock"`, a `Path`) or an abstract name
    /// (`"@app"`, [`UnixAddress::abstract_name`]), with [`UnixListenOptions`]' defaults (a
    /// stale socket file is an error; the file is removed when the listener closes).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("event-doc-listen-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let server = event::UnixSocket::listen(dir.join("app.sock"))?;
    /// assert!(dir.join("app.sock").exists());
    /// drop(server); // removes the socket file
    /// assert!(!dir.join("app.sock").exists());
    /// # std::fs::remove_dir(&dir)?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn listen(address: impl Into<UnixAddress>) -> Result<UnixServerSocket, SocketError> {
        UnixListenOptions::new().listen(address)
    }

    /// Connects to the listener at `address` (a path, or `"@name"` for an abstract name).
    ///
    /// A missing socket file, one nobody listens on (a stale file), and a file this user may
    /// not open each fail with [`SocketError::Unix`], whose message says what to do.
    ///
    /// ```
    /// use event::{SocketError, UnixSocket};
    ///
    /// event::run(async {
    ///     let name = format!("@event-doc-connect-{}", std::process::id());
    ///     let server = UnixSocket::listen(name.as_str())?;
    ///     let client = UnixSocket::connect(name.as_str()).await?;
    ///     let peer = server.accept().await?;
    ///     client.write(b"hi").await?;
    ///     assert_eq!(peer.read(16).await?, b"hi");
    ///     let err = UnixSocket::connect("/nonexistent/app.sock").await.unwrap_err();
    ///     assert!(err.to_string().contains("is the server running"), "{err}");
    ///     Ok::<(), SocketError>(())
    /// })?;
    /// # Ok::<(), SocketError>(())
    /// ```
    pub async fn connect(address: impl Into<UnixAddress>) -> Result<UnixSocket, SocketError> {
        let address = address.into();
        let core = event_loop::current().ok_or(SocketError::NoEventLoop)?;
        let sockaddr = address.to_sockaddr()?;
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)
            .map_err(|e| unix_error("socket", &address, e))?;
        match socket.connect(&sockaddr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(unix_error("connect", &address, e)),
        }
        let io = mio::net::UnixStream::from_std(OwnedFd::from(socket).into());
        let stream = Stream::connecting(&core, io)
            .await
            .map_err(|e| unix_error("connect", &address, e))?;
        Ok(UnixSocket {
            conn: Conn::new(stream, Rc::new(address)),
        })
    }

    /// [`connect`](UnixSocket::connect) with a time limit: past it,
    /// [`SocketError::ConnectTimeout`].
    pub async fn connect_timeout(
        address: impl Into<UnixAddress>,
        timeout: Duration,
    ) -> Result<UnixSocket, SocketError> {
        let address = address.into();
        let text = address.to_string();
        match crate::timeout(timeout, UnixSocket::connect(address)).await {
            Ok(r) => r,
            Err(_) => Err(SocketError::ConnectTimeout {
                target: text,
                after: timeout,
            }),
        }
    }

    /// Two connected sockets (`socketpair(2)`), both on the running loop. Hand one to a child
    /// process or a thread, or use both in tasks of this loop. Needs a running loop
    /// ([`SocketError::NoEventLoop`] otherwise).
    ///
    /// ```
    /// event::run(async {
    ///     let (a, b) = event::UnixSocket::pair()?;
    ///     a.shutdown_write()?;
    ///     assert!(matches!(b.read(1).await, Err(event::SocketError::ConnectionClosed)));
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn pair() -> Result<(UnixSocket, UnixSocket), SocketError> {
        let core = event_loop::current().ok_or(SocketError::NoEventLoop)?;
        let fail = |source| SocketError::Io {
            op: "socketpair",
            source,
        };
        let (a, b) = mio::net::UnixStream::pair().map_err(fail)?;
        let label = Rc::new(UnixAddress::Unnamed);
        let a = Stream::accepted(core.clone(), a).map_err(fail)?;
        let b = Stream::accepted(core, b).map_err(fail)?;
        Ok((
            UnixSocket {
                conn: Conn::new(a, label.clone()),
            },
            UnixSocket {
                conn: Conn::new(b, label),
            },
        ))
    }

    stream_io_methods! {
        UnixSocket;
        /// Reads at most `max_bytes`, waiting until at least one byte is there; the peer's orderly
        /// close is [`SocketError::ConnectionClosed`]. As [`Socket::read`](crate::Socket::read).
        read;
        /// Reads into `buf` without allocating. As [`Socket::read_into`](crate::Socket::read_into).
        read_into;
        /// Appends at most `max_bytes` to `buf`. As [`Socket::read_buf`](crate::Socket::read_buf).
        read_buf;
        /// Writes every byte of `bytes`, or fails saying how many went out; never raises
        /// `SIGPIPE`. As [`Socket::write`](crate::Socket::write) (write-behind on io_uring).
        write;
        /// Writes every byte of `buf`, handing the vector over. As
        /// [`Socket::write_owned`](crate::Socket::write_owned).
        write_owned;
        /// Closes the write side (half-close): the peer reads end of stream after the bytes
        /// written before, and can still send to us.
        shutdown_write;
        /// Closes the socket (dropping does the same). As [`Socket::close`](crate::Socket::close).
        close;
    }

    default_timeouts!(conn: set_read_timeout, read_timeout, "read"; set_write_timeout, write_timeout, "write");

    /// The peer's process, user and group (`SO_PEERCRED`), as recorded when the connection was
    /// made.
    pub fn peer_credentials(&self) -> Result<PeerCredentials, SocketError> {
        let (pid, uid, gid) = crate::driver::peer_cred(self.conn.stream.io())
            .map_err(|e| unix_error("peer credentials", &self.conn.addr, e))?;
        Ok(PeerCredentials { pid, uid, gid })
    }

    /// The socket's own address (`getsockname`): usually [`UnixAddress::Unnamed`] for a
    /// client, the listener's path or name for an accepted socket.
    pub fn local_address(&self) -> Result<UnixAddress, SocketError> {
        self.conn
            .stream
            .io()
            .local_addr()
            .map(|a| UnixAddress::from_std(&a))
            .map_err(|e| unix_error("getsockname", &self.conn.addr, e))
    }

    /// The peer's address (`getpeername`): the listener's path or name for a client, usually
    /// [`UnixAddress::Unnamed`] for an accepted socket.
    pub fn peer_address(&self) -> Result<UnixAddress, SocketError> {
        self.conn
            .stream
            .io()
            .peer_addr()
            .map(|a| UnixAddress::from_std(&a))
            .map_err(|e| unix_error("getpeername", &self.conn.addr, e))
    }

    pub(crate) fn conn(&self) -> &Conn<UnixSocket> {
        &self.conn
    }
}

impl std::os::fd::AsFd for UnixSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.conn.stream.io().as_fd()
    }
}

impl std::os::fd::AsRawFd for UnixSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.conn.stream.io().as_raw_fd()
    }
}
