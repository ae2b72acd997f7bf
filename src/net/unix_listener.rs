//! `UnixListenOptions` and `UnixServerSocket`: a listening Unix-domain stream socket, how its
//! path is bound (stale files, clear errors) and removed when it closes.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use mio::event::Source;
use socket2::Type;

use super::listener::Listener;
use super::options::{Limits, default_backlog, limit_builders};
use super::unix::unix_error;
use super::unix_path::{FilePolicy, SocketFile, file_policy_builders};
use super::{Accept, Connections, SocketError, UnixAddress, UnixSocket};

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
    limits: Limits,
    file: FilePolicy,
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
            limits: Limits::default(),
            file: FilePolicy::default(),
        }
    }

    /// The listen backlog (connections the kernel holds until they are accepted; a client
    /// beyond it fails to connect with "backlog is full").
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    limit_builders! {
        /// At most `max` accepted connections open at once (see [`AtLimit`](crate::AtLimit)).
        max_connections;
        /// What to do with new connections at the limit (default [`AtLimit::Wait`](crate::AtLimit::Wait)).
        at_limit;
        /// The default read and write timeout of every accepted socket: a silent client is
        /// dropped after `timeout` (as [`ListenOptions::idle_timeout`](crate::ListenOptions::idle_timeout)).
        idle_timeout;
    }

    file_policy_builders!();

    /// Binds and listens at `address` (a path, or `"@name"` for an abstract name). Can be
    /// called before the loop runs; the listener joins the loop of its first accept.
    pub fn listen(&self, address: impl Into<UnixAddress>) -> Result<UnixServerSocket, SocketError> {
        let address = address.into();
        let (socket, file) = self.file.bind(Type::STREAM, &address)?;
        socket
            .listen(self.backlog)
            .map_err(|e| unix_error("listen", &address, e))?;
        let io = UnixListenIo {
            io: mio::net::UnixListener::from_std(OwnedFd::from(socket).into()),
            _file: file,
        };
        Ok(UnixServerSocket {
            inner: Rc::new(Listener::new(io, Rc::new(address), self.limits)),
        })
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
