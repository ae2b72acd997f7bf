//! `Conn`: what every connected stream socket is made of (TCP's [`Socket`], [`UnixSocket`]):
//! the driver's `Stream`, default timeouts, turns, the connection-limit permit, and the name its
//! errors carry. The read and write futures and the I/O traits work on a `Conn`, so both socket
//! types share one implementation, compiled once per descriptor type (no per-operation match).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use super::io_traits::TraitOps;
use super::listener::Permit;
use super::op::OpState;
use super::turn::Turn;
use super::{Read, ReadBuf, ReadInto, Socket, SocketError, UnixSocket, Write, WriteOwned};
use crate::driver::{Direction, Stream, StreamIo};

pub(crate) mod sealed {
    use super::*;

    /// What differs between the stream socket types: the descriptors, the address errors
    /// name, and how those errors are built (out of line, on cold paths only).
    pub trait Kind: Sized + 'static {
        /// The connected socket's descriptor.
        type Io: StreamIo;
        /// The listening socket's descriptor.
        type Listen: mio::event::Source + std::os::fd::AsRawFd;
        /// What an error names: the peer (TCP), the socket's path or name (Unix).
        type Addr: Clone + fmt::Display + fmt::Debug + 'static;
        /// Accepts one connection; the second value is what its errors name.
        fn accept(listen: &Self::Listen, local: &Self::Addr) -> io::Result<(Self::Io, Self::Addr)>;
        /// A connection the driver accepted (io_uring's multishot accept): the socket around
        /// `fd` and what its errors name (TCP: `peer`, the address the ring gave, or else
        /// `getpeername`).
        fn adopt(
            fd: OwnedFd,
            local: &Self::Addr,
            peer: Option<std::net::SocketAddr>,
        ) -> io::Result<(Self::Io, Self::Addr)>;
        /// The socket type around a connection.
        fn wrap(conn: Conn<Self>) -> Self;
        /// A read failed.
        fn read_error(addr: &Self::Addr, source: io::Error) -> SocketError;
        /// A write failed after `written` bytes.
        fn write_error(addr: &Self::Addr, written: usize, source: io::Error) -> SocketError;
        /// `op` ("read", "write", "accept") waited longer than `after`.
        fn timeout(
            op: &'static str,
            addr: &Self::Addr,
            after: Duration,
            written: usize,
        ) -> SocketError;
        /// An accept failed (not because of one connection).
        fn accept_error(local: &Self::Addr, source: io::Error) -> SocketError;
    }
}

/// The connected stream socket types, [`Socket`] (TCP) and [`UnixSocket`]: the read and write
/// futures ([`Read`], [`Write`], ...) and the listener's futures ([`Accept`](crate::Accept),
/// [`Connections`](crate::Connections)) are generic over it, with `Socket` as the default, so
/// `Read<'_>` is TCP's and `Read<'_, UnixSocket>` a Unix socket's. Sealed: implemented by
/// those two types only.
pub trait StreamSocket: sealed::Kind {}

impl StreamSocket for Socket {}
impl StreamSocket for UnixSocket {}

/// The I/O methods of a stream socket type (`read`, `read_into`, `read_buf`, `write`,
/// `write_owned`, `shutdown_write`, `close`), each forwarding to its `Conn`, written once for
/// [`Socket`] and [`UnixSocket`]: each caller gives each method's docs.
macro_rules! stream_io_methods {
    (
        $ty:ident;
        $(#[$read:meta])* read;
        $(#[$into:meta])* read_into;
        $(#[$buf:meta])* read_buf;
        $(#[$write:meta])* write;
        $(#[$owned:meta])* write_owned;
        $(#[$shutdown:meta])* shutdown_write;
        $(#[$close:meta])* close;
    ) => {
        $(#[$read])*
        pub fn read(&self, max_bytes: usize) -> $crate::Read<'_, $ty> {
            self.conn.read(max_bytes)
        }

        $(#[$into])*
        pub fn read_into<'a>(&'a self, buf: &'a mut [u8]) -> $crate::ReadInto<'a, $ty> {
            self.conn.read_into(buf)
        }

        $(#[$buf])*
        pub fn read_buf<'a>(
            &'a self,
            buf: &'a mut Vec<u8>,
            max_bytes: usize,
        ) -> $crate::ReadBuf<'a, $ty> {
            self.conn.read_buf(buf, max_bytes)
        }

        $(#[$write])*
        pub fn write<'a>(&'a self, bytes: &'a [u8]) -> $crate::Write<'a, $ty> {
            self.conn.write(bytes)
        }

        $(#[$owned])*
        pub fn write_owned(&self, buf: Vec<u8>) -> $crate::WriteOwned<'_, $ty> {
            self.conn.write_owned(buf)
        }

        $(#[$shutdown])*
        pub fn shutdown_write(&self) -> Result<(), $crate::SocketError> {
            self.conn.shutdown_write()
        }

        $(#[$close])*
        pub fn close(self) {
            drop(self);
        }
    };
}
pub(crate) use stream_io_methods;

/// A connected stream socket (see the module docs).
pub struct Conn<T: sealed::Kind> {
    /// The descriptor and how operations reach the kernel.
    pub(crate) stream: Stream<T::Io>,
    /// What errors name.
    pub(crate) addr: T::Addr,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    /// Holds a place under the listener's connection limit until the socket is dropped.
    _permit: Option<Permit>,
    /// Timeout state for the `AsyncRead`/`AsyncWrite` impls, made on first use with a timeout.
    pub(crate) trait_ops: RefCell<Option<Box<TraitOps>>>,
    /// One read and one write at a time, in the order they started.
    pub(crate) reading: Turn,
    pub(crate) writing: Turn,
}

impl<T: StreamSocket> Conn<T> {
    pub(crate) fn new(stream: Stream<T::Io>, addr: T::Addr) -> Conn<T> {
        Conn::accepted(stream, addr, None, None)
    }

    /// An accepted connection: its place under the listener's limit and the idle timeout.
    /// (Built in one go: a `Conn` returned through a builder method is one more copy.)
    #[inline]
    pub(crate) fn accepted(
        stream: Stream<T::Io>,
        addr: T::Addr,
        permit: Option<Permit>,
        idle: Option<Duration>,
    ) -> Conn<T> {
        Conn {
            stream,
            addr,
            read_timeout: Cell::new(idle),
            write_timeout: Cell::new(idle),
            _permit: permit,
            trait_ops: RefCell::new(None),
            reading: Turn::default(),
            writing: Turn::default(),
        }
    }

    pub(crate) fn read(&self, max: usize) -> Read<'_, T> {
        Read {
            socket: self,
            max,
            op: OpState::new(self.read_timeout.get()),
        }
    }

    pub(crate) fn read_into<'a>(&'a self, buf: &'a mut [u8]) -> ReadInto<'a, T> {
        ReadInto {
            socket: self,
            buf,
            op: OpState::new(self.read_timeout.get()),
        }
    }

    pub(crate) fn read_buf<'a>(&'a self, buf: &'a mut Vec<u8>, max: usize) -> ReadBuf<'a, T> {
        ReadBuf {
            socket: self,
            buf,
            max,
            op: OpState::new(self.read_timeout.get()),
        }
    }

    pub(crate) fn write<'a>(&'a self, bytes: &'a [u8]) -> Write<'a, T> {
        Write {
            socket: self,
            buf: bytes,
            written: 0,
            op: OpState::new(self.write_timeout.get()),
        }
    }

    pub(crate) fn write_owned(&self, buf: Vec<u8>) -> WriteOwned<'_, T> {
        WriteOwned {
            socket: self,
            buf: Some(buf),
            written: 0,
            op: OpState::new(self.write_timeout.get()),
        }
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.read_timeout.set(timeout);
        if timeout.is_none() {
            self.trait_timeout_off(Direction::Read);
        }
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout.get()
    }

    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.write_timeout.set(timeout);
        if timeout.is_none() {
            self.trait_timeout_off(Direction::Write);
        }
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout.get()
    }

    pub(crate) fn shutdown_write(&self) -> Result<(), SocketError> {
        // Bytes already taken (io_uring's write-behind) go out first.
        self.stream
            .shutdown_write()
            .map_err(|source| SocketError::Io {
                op: "shutdown",
                source,
            })
    }
}
