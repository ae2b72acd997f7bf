//! `SocketError`: one error type for every socket operation.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

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
    /// The peer closed its side of the connection (orderly end of stream).
    #[error("connection closed by peer")]
    ConnectionClosed,
    /// A read (or accept) waited longer than its timeout. Nothing was consumed: the socket stays
    /// usable.
    #[error("timed out after {after:?}")]
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// A write waited longer than its timeout for the peer to take more bytes; `written` bytes of
    /// this call went out before. The socket stays usable.
    #[error("write timed out after {after:?} ({written} bytes written)")]
    WriteTimeout {
        /// The timeout.
        after: Duration,
        /// Bytes of this call the kernel took before the timeout.
        written: usize,
    },
    /// The listener was closed with [`ServerSocket::close`](crate::ServerSocket::close).
    #[error("socket is closed")]
    Closed,
    /// Another socket operation failed (setting an option, reading an address, ...).
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

impl SocketError {
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
            | SocketError::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The raw errno, when the operating system reported the failure.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.io_error().and_then(io::Error::raw_os_error)
    }

    /// Whether this is a timeout (of a read, write, accept or connect).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            SocketError::Timeout { .. }
                | SocketError::WriteTimeout { .. }
                | SocketError::ConnectTimeout { .. }
        )
    }

    /// The `io::ErrorKind` this error corresponds to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            SocketError::InvalidAddress { .. } => io::ErrorKind::InvalidInput,
            SocketError::ConnectionClosed => io::ErrorKind::UnexpectedEof,
            SocketError::Timeout { .. }
            | SocketError::WriteTimeout { .. }
            | SocketError::ConnectTimeout { .. } => io::ErrorKind::TimedOut,
            SocketError::Closed => io::ErrorKind::NotConnected,
            SocketError::NoEventLoop => io::ErrorKind::Other,
            other => other
                .io_error()
                .map_or(io::ErrorKind::Other, io::Error::kind),
        }
    }
}

impl From<SocketError> for io::Error {
    /// Keeps the kind; the `SocketError` (with its errno) is the inner error.
    fn from(e: SocketError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
