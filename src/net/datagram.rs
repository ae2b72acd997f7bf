//! `DatagramCore`: what every datagram socket is made of ([`UdpSocket`], [`UnixDatagram`]): the
//! driver's `Datagram`, its own and its peer's name, default timeouts and turns. The futures
//! (net/datagram_ops.rs) work on a `DatagramCore`, so both socket types share one
//! implementation, compiled once per descriptor type; the sealed `Kind` says what differs
//! (addresses, and the errors that name them).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::time::Duration;

use super::op::OpState;
use super::turn::Turn;
use super::{
    Datagrams, Recv, RecvFrom, SendDatagram, SendTo, SocketError, UdpSocket, UnixDatagram,
};
use crate::driver::{Datagram, DatagramIo};
use crate::time::Deadline;

/// A sender's address as the driver reports it.
pub(crate) type Sender<T> = <<T as sealed::Kind>::Io as DatagramIo>::From;
/// A destination as the driver takes it.
pub(crate) type Dest<T> = <<T as sealed::Kind>::Io as DatagramIo>::Addr;

pub(crate) mod sealed {
    use super::*;

    /// What differs between the datagram socket types: the descriptor, the addresses, and the
    /// errors that name them (built out of line, on cold paths only).
    pub trait Kind: Sized + 'static {
        /// The descriptor.
        type Io: DatagramIo;
        /// The address callers get back: `SocketAddress` (UDP), `UnixAddress`.
        type Address: Clone + fmt::Debug + 'static;
        /// The operation a `recv` without a peer names ("recv on an unconnected UDP socket
        /// (connect first, or use recv_from)").
        const RECV_UNCONNECTED: &'static str;
        /// The operation a `send` without a peer names.
        const SEND_UNCONNECTED: &'static str;
        /// The sender of a received datagram.
        fn sender(from: Sender<Self>) -> Self::Address;
        /// A destination, named for an error.
        fn name_of(to: &Dest<Self>) -> Self::Address;
        /// A datagram of `len` bytes from `from` did not fit the `capacity`-byte buffer.
        fn truncated(from: Self::Address, len: usize, capacity: usize) -> SocketError;
        /// A receive failed (`peer`: the connected peer, if any).
        fn recv_error(
            local: &Self::Address,
            peer: Option<&Self::Address>,
            source: io::Error,
        ) -> SocketError;
        /// A receive waited longer than `after`.
        fn recv_timeout(
            local: &Self::Address,
            peer: Option<&Self::Address>,
            after: Duration,
        ) -> SocketError;
        /// A send of `len` bytes to `to` failed.
        fn send_error(to: Self::Address, len: usize, source: io::Error) -> SocketError;
        /// A send to `to` waited longer than `after` for room.
        fn send_timeout(to: Self::Address, after: Duration) -> SocketError;
    }
}

/// The datagram socket types, [`UdpSocket`] and [`UnixDatagram`]: the receive and send futures
/// ([`RecvFrom`], [`SendTo`], [`Datagrams`], ...) are generic over it, with `UdpSocket` as the
/// default, so `RecvFrom<'_>` is UDP's and `RecvFrom<'_, UnixDatagram>` a Unix-domain
/// datagram socket's. Sealed: implemented by those two types only.
pub trait DatagramSocket: sealed::Kind {}

impl DatagramSocket for UdpSocket {}
impl DatagramSocket for UnixDatagram {}

/// A datagram socket (see the module docs).
pub struct DatagramCore<T: sealed::Kind> {
    /// The descriptor and how operations reach the kernel.
    pub(crate) dgram: Datagram<T::Io>,
    /// The socket's own address (what a receive on it names).
    pub(crate) local: T::Address,
    /// The peer set by `connect` (or a socket pair's other end).
    pub(crate) peer: RefCell<Option<T::Address>>,
    recv_timeout: Cell<Option<Duration>>,
    send_timeout: Cell<Option<Duration>>,
    /// The retry of a refused `send_to` whose writable edges prove nothing, and its interval.
    pub(crate) send_retry: RefCell<Option<(Deadline, Duration)>>,
    /// One receive and one send at a time, in the order they started.
    pub(crate) reading: Turn,
    pub(crate) writing: Turn,
}

impl<T: DatagramSocket> DatagramCore<T> {
    pub(crate) fn new(io: T::Io, local: T::Address) -> DatagramCore<T> {
        DatagramCore {
            dgram: Datagram::new(io),
            local,
            peer: RefCell::new(None),
            recv_timeout: Cell::new(None),
            send_timeout: Cell::new(None),
            send_retry: RefCell::new(None),
            reading: Turn::default(),
            writing: Turn::default(),
        }
    }

    /// Sets the peer (`connect(2)`): `to` in the kernel's form, `name` for errors and for the
    /// sender of what `recv` gets.
    pub(crate) fn connect(&self, to: &Dest<T>, name: T::Address) -> io::Result<()> {
        self.dgram.connect(to)?;
        *self.peer.borrow_mut() = Some(name);
        Ok(())
    }

    pub(crate) fn recv_from<'a>(&'a self, buf: &'a mut [u8]) -> RecvFrom<'a, T> {
        RecvFrom {
            socket: self,
            buf,
            op: OpState::new(self.recv_timeout.get()),
        }
    }

    pub(crate) fn recv<'a>(&'a self, buf: &'a mut [u8]) -> Recv<'a, T> {
        Recv {
            inner: self.recv_from(buf),
        }
    }

    /// A send to `to` (`None`: the connected peer).
    pub(crate) fn send_to<'a>(&'a self, buf: &'a [u8], to: Option<Dest<T>>) -> SendTo<'a, T> {
        SendTo {
            socket: self,
            buf,
            to,
            invalid: None,
            op: OpState::new(self.send_timeout.get()),
        }
    }

    pub(crate) fn send<'a>(&'a self, buf: &'a [u8]) -> SendDatagram<'a, T> {
        SendDatagram {
            inner: self.send_to(buf, None),
        }
    }

    pub(crate) fn datagrams(&self, max_len: usize) -> Datagrams<'_, T> {
        Datagrams::new(self, max_len)
    }

    /// `Debug` of the socket type `name`: its own address and its peer.
    pub(crate) fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("local", &self.local)
            .field("peer", &self.peer.borrow())
            .finish()
    }

    pub(crate) fn set_recv_timeout(&self, timeout: Option<Duration>) {
        self.recv_timeout.set(timeout);
    }

    pub(crate) fn recv_timeout(&self) -> Option<Duration> {
        self.recv_timeout.get()
    }

    pub(crate) fn set_send_timeout(&self, timeout: Option<Duration>) {
        self.send_timeout.set(timeout);
    }

    pub(crate) fn send_timeout(&self) -> Option<Duration> {
        self.send_timeout.get()
    }
}
