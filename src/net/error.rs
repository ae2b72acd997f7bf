//! `SocketError`: one error type for every socket operation.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::UnixAddress;

/// What went wrong in a socket operation, and where.
///
/// Every failure of the operating system keeps its [`io::Error`], so the errno is available
/// through [`raw_os_error`](SocketError::raw_os_error); `Display` names the operation and the
/// address:
///
/// ```
/// let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = taken.local_addr()?;
/// let err = event::ListenOptions::new().reuse_address(false).listen_on(addr).unwrap_err();
/// assert!(err.to_string().starts_with(&format!("bind {addr}: ")));
/// assert_eq!(err.raw_os_error(), Some(98)); // EADDRINUSE on Linux
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// The text is not a valid address (or host name and port).
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The text as given.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// `socket(2)` failed, or an option could not be set on a new socket.
    #[error("socket for {addr}: {source}")]
    Socket {
        /// The address the socket was for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// `bind(2)` failed (for example the address is in use).
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// `listen(2)` failed.
    #[error("listen {addr}: {source}")]
    Listen {
        /// The bound address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// `accept(2)` failed with an error that is not about one connection (for example the process
    /// is out of file descriptors). The listener backs off briefly before trying again.
    #[error("accept on {addr}: {source}")]
    Accept {
        /// The listening address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A host name could not be resolved.
    #[error("resolve {host:?}: {source}")]
    Resolve {
        /// The name as given.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The connection could not be established (refused, unreachable, ...), checked with
    /// `SO_ERROR` when the non-blocking connect completes.
    #[error("connect {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// `connect` did not complete in time.
    #[error("connect {target}: timed out after {after:?}")]
    ConnectTimeout {
        /// What was being connected to.
        target: String,
        /// The timeout.
        after: Duration,
    },
    /// A read failed (for example the peer reset the connection).
    #[error("read from {peer}: {source}")]
    Read {
        /// The peer's address.
        peer: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A write failed; `written` bytes of this call had been handed to the kernel before.
    #[error("write to {peer}: {source} ({written} bytes written)")]
    Write {
        /// The peer's address.
        peer: SocketAddr,
        /// Bytes of this call the kernel took before the failure.
        written: usize,
        /// The operating system's error.
        source: io::Error,
    },
    /// A UDP receive failed. On a connected socket a peer that refused an earlier datagram
    /// (an ICMP "port unreachable") shows here as `ConnectionRefused` (`ECONNREFUSED`).
    #[error("receive on {local}{}: {source}", from_peer(.peer))]
    Recv {
        /// The socket's local address.
        local: SocketAddr,
        /// The connected peer, if the socket is connected.
        peer: Option<SocketAddr>,
        /// The operating system's error.
        source: io::Error,
    },
    /// A UDP send failed (on a connected socket, `ConnectionRefused` reports a peer that
    /// refused an earlier datagram).
    #[error("send to {peer}: {source}")]
    Send {
        /// Where the datagram was going.
        peer: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A datagram was too large to send (`EMSGSIZE`): more than UDP carries (65,507 bytes of
    /// payload over IPv4, 65,527 over IPv6), or more than the path allows without
    /// fragmentation. Nothing was sent.
    #[error(
        "send to {peer}: a datagram of {len} bytes is too large (EMSGSIZE; UDP carries at most 65,507 bytes over IPv4): {source}"
    )]
    DatagramTooLarge {
        /// Where the datagram was going.
        peer: SocketAddr,
        /// The datagram's length.
        len: usize,
        /// The operating system's error (`EMSGSIZE`).
        source: io::Error,
    },
    /// A received datagram was larger than the buffer: its first `capacity` bytes are in the
    /// buffer, the rest is lost (UDP delivers a datagram whole or not at all, so the kernel
    /// drops what does not fit). Receive into a larger buffer (65,536 bytes hold any
    /// datagram) to get it whole next time. The socket stays usable.
    #[error("datagram from {peer} of {len} bytes truncated to the {capacity}-byte buffer")]
    Truncated {
        /// The sender.
        peer: SocketAddr,
        /// The datagram's full length.
        len: usize,
        /// The buffer's length: the bytes of the datagram that were kept.
        capacity: usize,
    },
    /// A Unix-domain socket operation failed: `op` is `"socket"`, `"bind"`, `"listen"`,
    /// `"connect"`, `"accept"`, `"read"`, `"peer credentials"`... `Display` adds what to do for
    /// the common causes: a directory that does not exist, permission denied, nobody
    /// listening, a name or path already in use.
    #[error("{op} {}: {source}{}", unix_where(.op, .address), unix_hint(.op, .address, .source))]
    Unix {
        /// The operation.
        op: &'static str,
        /// The socket's path or abstract name (for an accepted socket, its listener's).
        address: UnixAddress,
        /// The operating system's error.
        source: io::Error,
    },
    /// A write on a Unix-domain socket failed; `written` bytes of this call had been taken.
    #[error("write to {address}: {source} ({written} bytes written)")]
    UnixWrite {
        /// The socket's path or abstract name (for an accepted socket, its listener's).
        address: UnixAddress,
        /// Bytes of this call taken before the failure.
        written: usize,
        /// The operating system's error.
        source: io::Error,
    },
    /// A read, write or accept on a Unix-domain socket waited longer than its timeout; nothing
    /// was consumed by a read, `written` bytes of a write went out. The socket stays usable.
    #[error("{op} {}: timed out after {after:?}{}", unix_where(.op, .address), written_note(.op, *.written))]
    UnixTimeout {
        /// `"read"`, `"write"` or `"accept"`.
        op: &'static str,
        /// The socket's path or abstract name (for an accepted socket, its listener's).
        address: UnixAddress,
        /// The timeout.
        after: Duration,
        /// Bytes of a write that went out before the timeout (0 for a read or accept).
        written: usize,
    },
    /// A datagram received on a Unix-domain datagram socket was larger than the buffer: its
    /// first `capacity` bytes are in the buffer, the rest is lost (as for UDP's
    /// [`Truncated`](SocketError::Truncated)). The socket stays usable.
    #[error("datagram from {peer} of {len} bytes truncated to the {capacity}-byte buffer")]
    UnixTruncated {
        /// The sender ([`UnixAddress::Unnamed`] for an unbound one).
        peer: UnixAddress,
        /// The datagram's full length.
        len: usize,
        /// The buffer's length: the bytes of the datagram that were kept.
        capacity: usize,
    },
    /// A Unix-domain socket path (or abstract name) does not fit in `sun_path`: at most
    /// `max` bytes (107 on Linux: 108 with the terminating NUL). Nothing was created.
    #[error(
        "unix socket path {address:?} is {len} bytes, over the limit of {max} (sun_path is 108 bytes): use a shorter path, e.g. in $XDG_RUNTIME_DIR or /tmp, or a relative path from a nearer working directory"
    )]
    UnixPathTooLong {
        /// The path or name as given.
        address: String,
        /// Its length in bytes.
        len: usize,
        /// The most a path or name can take.
        max: usize,
    },
    /// A socket file is left at `path` by a process that ended without removing it: nobody
    /// listens there (a connect is refused). Nothing was deleted.
    #[error(
        "stale socket file at {}: remove it, or listen with replace_stale(true)",
        .path.display()
    )]
    StaleSocketFile {
        /// The socket file.
        path: PathBuf,
    },
    /// The peer closed its side of the connection (orderly end of stream).
    #[error("connection closed by peer")]
    ConnectionClosed,
    /// A read (or accept) waited longer than its timeout. Nothing was consumed: the socket stays
    /// usable. `Display` names the operation and the address: `"read from 127.0.0.1:9102: timed
    /// out after 3s"`, `"accept on 127.0.0.1:8080: timed out after 1s"`.
    #[error("{op} {} {addr}: timed out after {after:?}", preposition(.op))]
    Timeout {
        /// The operation: `"read"` (also through `AsyncRead`) or `"accept"`.
        op: &'static str,
        /// The peer's address for a read; the listening address for an accept.
        addr: SocketAddr,
        /// The timeout.
        after: Duration,
    },
    /// A write waited longer than its timeout for the peer to take more bytes; `written` bytes of
    /// this call went out before. The socket stays usable. `Display`: `"write to
    /// 127.0.0.1:9102: timed out after 3s (0 bytes written)"`.
    #[error("write to {peer}: timed out after {after:?} ({written} bytes written)")]
    WriteTimeout {
        /// The peer's address.
        peer: SocketAddr,
        /// The timeout.
        after: Duration,
        /// Bytes of this call the kernel took before the timeout.
        written: usize,
    },
    /// The listener was closed with [`ServerSocket::close`](crate::ServerSocket::close).
    #[error("socket is closed")]
    Closed,
    /// Another socket operation failed (setting an option, reading an address, ...), or an
    /// [`io::Error`] was converted with `?` (`From<io::Error>`; then `op` is `"io"`).
    #[error("{op}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The operation needs an event loop and none is running on this thread.
    #[error(
        "no event loop is running on this thread: run this inside event::run(...) or EventLoop::block_on"
    )]
    NoEventLoop,
}

/// "read from" the peer, "accept on" the listening address.
fn preposition(op: &str) -> &'static str {
    match op {
        "read" => "from",
        "write" => "to",
        _ => "on",
    }
}

impl SocketError {
    /// A read that waited longer than `after` for bytes from `peer` (built out of line: the
    /// bytes' path never carries it).
    #[cold]
    #[inline(never)]
    pub(crate) fn read_timeout(peer: SocketAddr, after: Duration) -> SocketError {
        SocketError::Timeout {
            op: "read",
            addr: peer,
            after,
        }
    }

    /// An accept on `local` that waited longer than `after` for a connection.
    #[cold]
    #[inline(never)]
    pub(crate) fn accept_timeout(local: SocketAddr, after: Duration) -> SocketError {
        SocketError::Timeout {
            op: "accept",
            addr: local,
            after,
        }
    }

    /// A write to `peer` that waited longer than `after` for room, `written` bytes in.
    #[cold]
    #[inline(never)]
    pub(crate) fn write_timeout(peer: SocketAddr, after: Duration, written: usize) -> SocketError {
        SocketError::WriteTimeout {
            peer,
            after,
            written,
        }
    }

    /// The operating system's error behind this one, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            SocketError::Socket { source, .. }
            | SocketError::Bind { source, .. }
            | SocketError::Listen { source, .. }
            | SocketError::Accept { source, .. }
            | SocketError::Resolve { source, .. }
            | SocketError::Connect { source, .. }
            | SocketError::Read { source, .. }
            | SocketError::Write { source, .. }
            | SocketError::Recv { source, .. }
            | SocketError::Send { source, .. }
            | SocketError::DatagramTooLarge { source, .. }
            | SocketError::Unix { source, .. }
            | SocketError::UnixWrite { source, .. }
            | SocketError::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The raw errno, when the operating system reported the failure.
    pub fn raw_os_error(&self) -> Option<i32> {
        let error = self.io_error()?;
        error.raw_os_error().or_else(|| wrapped_os_error(error))
    }

    /// Whether this is a timeout (of a read, write, accept or connect).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            SocketError::Timeout { .. }
                | SocketError::WriteTimeout { .. }
                | SocketError::ConnectTimeout { .. }
                | SocketError::UnixTimeout { .. }
        )
    }

    /// The `io::ErrorKind` this error corresponds to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            SocketError::InvalidAddress { .. } => io::ErrorKind::InvalidInput,
            SocketError::ConnectionClosed => io::ErrorKind::UnexpectedEof,
            SocketError::Timeout { .. }
            | SocketError::WriteTimeout { .. }
            | SocketError::ConnectTimeout { .. }
            | SocketError::UnixTimeout { .. } => io::ErrorKind::TimedOut,
            SocketError::UnixPathTooLong { .. } => io::ErrorKind::InvalidInput,
            SocketError::StaleSocketFile { .. } => io::ErrorKind::AddrInUse,
            SocketError::Closed => io::ErrorKind::NotConnected,
            SocketError::Truncated { .. } | SocketError::UnixTruncated { .. } => {
                io::ErrorKind::InvalidData
            }
            SocketError::NoEventLoop => io::ErrorKind::Other,
            other => other
                .io_error()
                .map_or(io::ErrorKind::Other, io::Error::kind),
        }
    }
}

/// The errno of an OS error that `error` wraps (io_uring's error of an earlier datagram, which
/// names that datagram's destination, has it as its source).
#[cold]
fn wrapped_os_error(error: &io::Error) -> Option<i32> {
    let mut source = error.get_ref()?.source();
    while let Some(e) = source {
        if let Some(errno) = e
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(errno);
        }
        source = e.source();
    }
    None
}

/// `"from PATH"`, `"to PATH"`, `"on PATH"` or just `PATH`, as fits the operation.
fn unix_where(op: &str, address: &UnixAddress) -> String {
    match op {
        "read" => format!("from {address}"),
        "write" | "connect" | "send" => format!("to {address}"),
        "bind" | "listen" | "socket" => address.to_string(),
        _ => format!("on {address}"),
    }
}

/// `" (N bytes written)"` for a write.
fn written_note(op: &str, written: usize) -> String {
    if op == "write" {
        format!(" ({written} bytes written)")
    } else {
        String::new()
    }
}

/// What to do about the common failures of binding and connecting a Unix-domain socket.
fn unix_hint(op: &str, address: &UnixAddress, source: &io::Error) -> String {
    let dir = match address {
        UnixAddress::Path(p) => match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
            _ => ".".to_string(),
        },
        _ => String::new(),
    };
    let is_path = matches!(address, UnixAddress::Path(_));
    match (op, source.raw_os_error()) {
        ("bind", Some(libc::ENOENT)) => {
            format!(": the directory {dir} does not exist: create it first")
        }
        ("bind", Some(libc::EACCES | libc::EPERM)) => {
            format!(": this user may not create a file in {dir}: choose a directory it can write (e.g. $XDG_RUNTIME_DIR), or change the directory's permissions")
        }
        ("bind", Some(libc::EADDRINUSE)) if is_path => {
            ": another process listens there: stop it, or choose another path".to_string()
        }
        ("bind", Some(libc::EADDRINUSE)) => {
            ": another socket has this abstract name: choose another name".to_string()
        }
        ("send", Some(libc::EMSGSIZE)) => {
            ": the datagram is larger than the socket's send buffer allows (SO_SNDBUF): send less, or raise SO_SNDBUF".to_string()
        }
        ("connect" | "send", Some(libc::ENOENT)) => {
            ": no socket file there: is the server running, and is this its path?".to_string()
        }
        ("connect" | "send", Some(libc::EACCES | libc::EPERM)) => {
            ": this user may not open the socket file (it needs write permission on it and search permission on its directories)".to_string()
        }
        ("connect" | "send", Some(libc::ECONNREFUSED)) if is_path => {
            ": nobody listens there (a stale socket file left by a process that ended?)".to_string()
        }
        ("connect" | "send", Some(libc::ECONNREFUSED)) => {
            ": nobody listens on this name".to_string()
        }
        ("connect", Some(libc::EAGAIN)) => {
            ": the listener's backlog is full: try again later".to_string()
        }
        _ => String::new(),
    }
}

/// `" from PEER"` for a connected socket's receive error, else nothing.
fn from_peer(peer: &Option<SocketAddr>) -> String {
    peer.map(|p| format!(" from {p}")).unwrap_or_default()
}

impl From<io::Error> for SocketError {
    /// Wraps an error of some other I/O (a file, standard input, a `std::net` socket...) as
    /// [`SocketError::Io`] with `op` `"io"`, keeping the error and its errno, so `?` works in a
    /// function that returns `Result<_, SocketError>`:
    ///
    /// ```
    /// use event::SocketError;
    ///
    /// fn port_from_file(path: &str) -> Result<u16, SocketError> {
    ///     let text = std::fs::read_to_string(path)?; // io::Error -> SocketError
    ///     Ok(text.trim().parse().unwrap_or(8080))
    /// }
    ///
    /// let err = port_from_file("/nonexistent/event-port").unwrap_err();
    /// assert!(matches!(err, SocketError::Io { op: "io", .. }));
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// assert_eq!(err.raw_os_error(), Some(2)); // ENOENT
    /// assert!(err.to_string().starts_with("io: "));
    /// ```
    ///
    /// An `io::Error` made from a `SocketError` (as the `AsyncRead`/`AsyncWrite` traits return
    /// them) converts back to the original:
    ///
    /// ```
    /// use event::SocketError;
    /// let io: std::io::Error = SocketError::ConnectionClosed.into();
    /// assert!(matches!(SocketError::from(io), SocketError::ConnectionClosed));
    /// ```
    fn from(source: io::Error) -> SocketError {
        if !source.get_ref().is_some_and(|e| e.is::<SocketError>()) {
            return SocketError::Io { op: "io", source };
        }
        let kind = source.kind();
        match source
            .into_inner()
            .map(|inner| inner.downcast::<SocketError>())
        {
            Some(Ok(e)) => *e,
            Some(Err(other)) => SocketError::Io {
                op: "io",
                source: io::Error::new(kind, other),
            },
            None => SocketError::Io {
                op: "io",
                source: kind.into(),
            },
        }
    }
}

impl From<SocketError> for io::Error {
    /// Keeps the kind; the `SocketError` (with its errno) is the inner error.
    fn from(e: SocketError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
