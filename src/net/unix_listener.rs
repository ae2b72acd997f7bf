//! `UnixListenOptions` and `UnixServerSocket`: a listening Unix-domain stream socket, how its
//! path is bound (stale files, clear errors) and removed when it closes.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use mio::event::Source;
use socket2::{Domain, Type};

use super::listener::{Limits, Listener};
use super::options::default_backlog;
use super::unix::unix_error;
use super::{Accept, AtLimit, Connections, SocketError, UnixAddress, UnixSocket};

/// Options for a listening Unix-domain socket: backlog, the limits its accepted sockets get
/// (as TCP's [`ListenOptions`](crate::ListenOptions)), and what to do about its socket file.
///
/// ```
/// use std::time::Duration;
/// use event::UnixListenOptions;
///
/// let path = std::env::temp_dir().join(format!("event-doc-opts-{}.sock", std::process::id()));
/// let server = UnixListenOptions::new()
///     .max_connections(100)
///     .idle_timeout(Duration::from_secs(30))
///     .replace_stale(true) // a file left by a crashed run is replaced, after a check
///     .listen(&path)?;
/// assert_eq!(server.local_address().as_path(), Some(path.as_path()));
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Debug, Clone)]
pub struct UnixListenOptions {
    backlog: i32,
    max_connections: Option<usize>,
    at_limit: AtLimit,
    idle_timeout: Option<Duration>,
    replace_stale: bool,
    remove_on_close: bool,
}

impl Default for UnixListenOptions {
    fn default() -> UnixListenOptions {
        UnixListenOptions::new()
    }
}

impl UnixListenOptions {
    /// The kernel's largest backlog, no limits, a stale socket file is an error
    /// ([`SocketError::StaleSocketFile`]), and the file is removed when the listener closes.
    pub fn new() -> UnixListenOptions {
        UnixListenOptions {
            backlog: default_backlog(),
            max_connections: None,
            at_limit: AtLimit::Wait,
            idle_timeout: None,
            replace_stale: false,
            remove_on_close: true,
        }
    }

    /// The listen backlog (connections the kernel holds until they are accepted; a client
    /// beyond it fails to connect with "backlog is full").
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// At most `max` accepted connections open at once (see [`AtLimit`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// What to do with new connections at the limit (default [`AtLimit::Wait`]).
    pub fn at_limit(mut self, at_limit: AtLimit) -> Self {
        self.at_limit = at_limit;
        self
    }

    /// The default read and write timeout of every accepted socket: a silent client is
    /// dropped after `idle` (as [`ListenOptions::idle_timeout`](crate::ListenOptions::idle_timeout)).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// Whether a stale socket file at the path (one nobody listens on: a connect to it is
    /// refused) is replaced. Off by default: then it is [`SocketError::StaleSocketFile`].
    /// On, the file is removed and bound again only after that check; a file that is not a
    /// socket, or one a process listens on, is never removed. (The check is a connect: a live
    /// listener there accepts one connection that closes at once, as from a health check.)
    pub fn replace_stale(mut self, replace: bool) -> Self {
        self.replace_stale = replace;
        self
    }

    /// Whether closing (or dropping) the listener removes its socket file (default: yes, if
    /// the path still names the file this listener created; std's `UnixListener` leaves it).
    pub fn remove_on_close(mut self, remove: bool) -> Self {
        self.remove_on_close = remove;
        self
    }

    /// Binds and listens at `address` (a path, or `"@name"` for an abstract name). Can be
    /// called before the loop runs; the listener joins the loop of its first accept.
    pub fn listen(&self, address: impl Into<UnixAddress>) -> Result<UnixServerSocket, SocketError> {
        let address = address.into();
        let sockaddr = address.to_sockaddr()?;
        let socket = match self.bind(&address, &sockaddr) {
            Err(SocketError::Unix { source, .. })
                if source.raw_os_error() == Some(libc::EADDRINUSE) =>
            {
                self.bind_over_existing(&address, &sockaddr, source)?
            }
            other => other?,
        };
        socket
            .listen(self.backlog)
            .map_err(|e| unix_error("listen", &address, e))?;
        let file = match &address {
            UnixAddress::Path(path) if self.remove_on_close => SocketFile::of(path),
            _ => None,
        };
        let io = UnixListenIo {
            io: mio::net::UnixListener::from_std(OwnedFd::from(socket).into()),
            _file: file,
        };
        let limits = Limits {
            max_connections: self.max_connections,
            at_limit: self.at_limit,
            idle_timeout: self.idle_timeout,
        };
        Ok(UnixServerSocket {
            inner: Rc::new(Listener::new(io, Rc::new(address), limits)),
        })
    }

    fn bind(
        &self,
        address: &UnixAddress,
        sockaddr: &socket2::SockAddr,
    ) -> Result<socket2::Socket, SocketError> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)
            .map_err(|e| unix_error("socket", address, e))?;
        socket
            .bind(sockaddr)
            .map_err(|e| unix_error("bind", address, e))?;
        Ok(socket)
    }

    /// The path exists: a live listener's (the error stands), a stale socket file (an error
    /// unless `replace_stale`), or not a socket at all (never touched).
    #[cold]
    fn bind_over_existing(
        &self,
        address: &UnixAddress,
        sockaddr: &socket2::SockAddr,
        in_use: io::Error,
    ) -> Result<socket2::Socket, SocketError> {
        let UnixAddress::Path(path) = address else {
            return Err(unix_error("bind", address, in_use));
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(unix_error(
                    "bind",
                    address,
                    io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "the path exists and is not a socket file: choose another path (it was left alone)",
                    ),
                ));
            }
            Ok(_) => {}
            // Gone meanwhile: try once more.
            Err(_) => return self.bind(address, sockaddr),
        }
        if !is_stale(sockaddr) {
            return Err(unix_error("bind", address, in_use));
        }
        if !self.replace_stale {
            return Err(SocketError::StaleSocketFile { path: path.clone() });
        }
        crate::trace::event!(info, path = %path.display(), "replacing a stale socket file");
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(unix_error("remove stale socket file", address, e)),
        }
        self.bind(address, sockaddr)
    }
}

/// Whether nobody listens at `sockaddr`: a non-blocking connect to it is refused (a backlog
/// that is full, `EAGAIN`, means a live listener).
fn is_stale(sockaddr: &socket2::SockAddr) -> bool {
    let Ok(probe) = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)
    else {
        return false;
    };
    matches!(probe.connect(sockaddr), Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED))
}

/// The socket file a listener created, removed when the listener closes if the path still
/// names that file (same device and inode: a file another process bound since is left alone).
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    fn of(path: &Path) -> Option<SocketFile> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(SocketFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.dev() == self.dev
            && meta.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A listening Unix-domain socket's descriptor, and its file (removed after the descriptor is
/// closed: fields drop in order).
pub struct UnixListenIo {
    pub(crate) io: mio::net::UnixListener,
    _file: Option<SocketFile>,
}

impl std::os::fd::AsRawFd for UnixListenIo {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.io)
    }
}

impl Source for UnixListenIo {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.io.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.io.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.io.deregister(registry)
    }
}

/// A listening Unix-domain stream socket: the counterpart of std's and tokio's
/// `UnixListener`, with what TCP's [`ServerSocket`](crate::ServerSocket) has (accept with a
/// timeout, a `connections` stream, connection limits, idle timeouts, `close` from any task,
/// [`Shutdown::close_on_trigger`](crate::Shutdown::close_on_trigger)).
///
/// Unlike std's, closing or dropping it removes its socket file (unless
/// [`UnixListenOptions::remove_on_close`] says not to), so a clean exit leaves no stale file.
///
/// ```
/// use event::{SocketError, UnixSocket};
///
/// event::run(async {
///     let path = std::env::temp_dir().join(format!("event-doc-server-{}.sock", std::process::id()));
///     let server = UnixSocket::listen(&path)?;
///     event::spawn(async move {
///         while let Ok(client) = server.accept().await {
///             event::spawn(async move {
///                 while let Ok(bytes) = client.read(4096).await {
///                     if client.write(&bytes).await.is_err() {
///                         break;
///                     }
///                 }
///             });
///         }
///     });
///     let client = UnixSocket::connect(&path).await?;
///     client.write(b"echo").await?;
///     assert_eq!(client.read(64).await?, b"echo");
///     Ok::<(), SocketError>(())
/// })?;
/// # Ok::<(), SocketError>(())
/// ```
#[derive(Clone)]
pub struct UnixServerSocket {
    inner: Rc<Listener<UnixSocket>>,
}

impl fmt::Debug for UnixServerSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixServerSocket")
            .field("local", &self.inner.local)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl UnixServerSocket {
    /// Waits for the next connection (as [`ServerSocket::accept`](crate::ServerSocket::accept);
    /// `.timeout(d)` gives up after `d`).
    pub fn accept(&self) -> Accept<'_, UnixSocket> {
        self.inner.accept()
    }

    /// The connections, as a [`Stream`](futures_core::Stream) that ends when the socket closes.
    pub fn connections(&self) -> Connections<UnixSocket> {
        self.inner.connections()
    }

    /// The path or abstract name it listens at.
    pub fn local_address(&self) -> UnixAddress {
        (*self.inner.local).clone()
    }

    /// Stops listening: closes the descriptor, removes the socket file (see
    /// [`UnixListenOptions::remove_on_close`]), wakes a pending accept with
    /// [`SocketError::Closed`]. Idempotent, callable from any task holding a clone.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether [`close`](UnixServerSocket::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl std::os::fd::AsRawFd for UnixServerSocket {
    /// The listening descriptor, or -1 once closed.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.io().as_ref().map_or(-1, |l| l.io.as_raw_fd())
    }
}
