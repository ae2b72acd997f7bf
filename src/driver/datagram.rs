//! `Datagram<D>`: a datagram socket's I/O (UDP, Unix-domain), the same operations on either
//! driver, generic over its descriptor (`DatagramIo`) as `Stream<S>` is over `StreamIo`.
//!
//! As for [`Stream`](super::Stream), every operation is a `poll`: `Pending` means the task's
//! waker is registered; a timeout is the caller's (it withdraws the wait with `cancel_wait`).
//! One operation per direction is polled at a time (the socket's turns see to it).
//!
//! On epoll the socket is served by the readiness reactor (`recvfrom`/`sendto` when ready,
//! epoll/datagram.rs); on io_uring by completions (uring/datagram.rs): a multishot `recvmsg`
//! feeding a bounded per-socket queue, sends owning their bytes and address until they
//! complete (UDP; Unix-domain datagrams use readiness on both drivers: `DatagramIo::ON_RING`).
//! The match between the two is here, so nothing above this file names a backend.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::rc::Rc;
use std::task::{Context, Poll};

use socket2::SockAddr;

use super::Direction;
use super::epoll::{self, Registration};
use crate::event_loop::{self, Core};

/// The descriptor of a datagram socket: `mio::net::UdpSocket` or `mio::net::UnixDatagram`.
/// `Datagram` is generic over it (static dispatch, as `Stream` over `StreamIo`). The system
/// calls are the same for both (`recvfrom`, `sendto` with `MSG_NOSIGNAL`, `connect`); what
/// differs is the addresses and how large a datagram can be.
pub trait DatagramIo: AsFd + AsRawFd + 'static {
    /// Where a send goes: a `SocketAddr` for UDP; for a Unix-domain socket the kernel's form,
    /// made (and checked) once by the caller.
    type Addr: Unpin;
    /// Who sent a received datagram.
    type From;
    /// The largest datagram the socket can receive: a longer buffer cannot truncate.
    const MAX_DATAGRAM: usize;
    /// Whether the writable edge after a refused send to an address proves nothing: an
    /// unconnected Unix datagram socket gets one after every send that the receiver's full
    /// queue refused (the kernel frees the datagram it could not queue), so waiting for it
    /// would spin. Such a send's `Pending` registers no waker: its caller retries on a timer.
    const SEND_TO_EDGES_UNRELIABLE: bool = false;
    /// Whether io_uring loops serve this socket by completions (uring/datagram.rs, which
    /// speaks IP addresses only); `false`: readiness on both drivers.
    const ON_RING: bool = false;
    /// A sender's address as the ring reports it (only called when `ON_RING`).
    fn from_ring(_addr: SocketAddr) -> Option<Self::From> {
        None
    }
    /// A destination as the ring takes it (only called when `ON_RING`).
    fn to_ring(_addr: &Self::Addr) -> Option<SocketAddr> {
        None
    }
    /// The kernel's form of `addr`.
    fn to_sockaddr(addr: &Self::Addr) -> Cow<'_, SockAddr>;
    /// `recvfrom(2)` into `buf`: the bytes copied and the sender.
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Self::From)>;
    /// `recv(2)` into `buf`: the bytes copied.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// `sendto(2)` of `buf` to `to`, without raising SIGPIPE.
    fn send_to(&self, buf: &[u8], to: &Self::Addr) -> io::Result<usize>;
}

impl DatagramIo for mio::net::UdpSocket {
    type Addr = SocketAddr;
    type From = SocketAddr;
    /// 65,535 bytes of IP payload less the 8-byte UDP header (no jumbograms).
    const MAX_DATAGRAM: usize = 65_527;
    const ON_RING: bool = true;

    fn from_ring(addr: SocketAddr) -> Option<SocketAddr> {
        Some(addr)
    }

    fn to_ring(addr: &SocketAddr) -> Option<SocketAddr> {
        Some(*addr)
    }

    fn to_sockaddr(addr: &SocketAddr) -> Cow<'_, SockAddr> {
        Cow::Owned(SockAddr::from(*addr))
    }

    #[inline]
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        mio::net::UdpSocket::recv_from(self, buf)
    }

    #[inline]
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        mio::net::UdpSocket::recv(self, buf)
    }

    /// std's `sendto` (`MSG_NOSIGNAL` on Linux; a UDP send raises no SIGPIPE anywhere) with
    /// the address built on the stack in its own size, where a `SockAddr` would zero 128 bytes
    /// for every datagram.
    #[inline]
    fn send_to(&self, buf: &[u8], to: &SocketAddr) -> io::Result<usize> {
        mio::net::UdpSocket::send_to(self, buf, *to)
    }
}

impl DatagramIo for mio::net::UnixDatagram {
    type Addr = SockAddr;
    type From = std::os::unix::net::SocketAddr;
    /// As large as a sender's `SO_SNDBUF` allows: no buffer is known to hold every datagram.
    const MAX_DATAGRAM: usize = usize::MAX;
    const SEND_TO_EDGES_UNRELIABLE: bool = true;

    fn to_sockaddr(addr: &SockAddr) -> Cow<'_, SockAddr> {
        Cow::Borrowed(addr)
    }

    #[inline]
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Self::From)> {
        mio::net::UnixDatagram::recv_from(self, buf)
    }

    #[inline]
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        mio::net::UnixDatagram::recv(self, buf)
    }

    #[inline]
    fn send_to(&self, buf: &[u8], to: &SockAddr) -> io::Result<usize> {
        socket2::SockRef::from(self).send_to_with_flags(buf, to, super::epoll::SEND_FLAGS)
    }
}

/// What one receive brought.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received<A = SocketAddr> {
    /// Bytes copied into the caller's buffer.
    pub(crate) len: usize,
    /// The datagram's full length (more than `len`: it was truncated to the buffer).
    pub(crate) size: usize,
    /// The sender (`None` from `poll_recv`: the connected peer).
    pub(crate) from: Option<A>,
}

/// A datagram socket's driver side and its descriptor (UDP unless `D` says otherwise). It
/// joins the loop that runs its first operation (so it can be made before the loop runs).
pub(crate) struct Datagram<D: DatagramIo = mio::net::UdpSocket> {
    /// Declared before `io`: the io_uring side cancels its operations before the descriptor
    /// closes.
    imp: OnceCell<Imp>,
    io: D,
}

enum Imp {
    /// Readiness (epoll, kqueue): `recvfrom`/`sendto` when the reactor says the socket is ready.
    Readiness(Registration),
    /// Completion (io_uring): a multishot `recvmsg` into the socket's queue, owned sends.
    #[cfg(target_os = "linux")]
    Uring(super::uring::Datagram),
}

impl<D: DatagramIo> Datagram<D> {
    /// A non-blocking socket (bound, or not yet: a Unix-domain socket may stay unnamed).
    pub(crate) fn new(io: D) -> Datagram<D> {
        Datagram {
            imp: OnceCell::new(),
            io,
        }
    }

    /// The descriptor (for socket options and addresses).
    pub(crate) fn io(&self) -> &D {
        &self.io
    }

    /// The driver side, set up with the running loop at the first operation.
    fn imp(&self) -> io::Result<&Imp> {
        if let Some(imp) = self.imp.get() {
            return Ok(imp);
        }
        let core = event_loop::current().ok_or_else(no_loop)?;
        #[cfg(target_os = "linux")]
        if let Some(uring) = core.driver.uring().cloned().filter(|_| D::ON_RING) {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&self.io);
            let imp = Imp::Uring(super::uring::Datagram::new(core, uring, fd)?);
            return Ok(self.imp.get_or_init(|| imp));
        }
        // Registration needs `&mut` only for mio's bookkeeping on other platforms; the
        // descriptor itself is what epoll watches.
        let mut source = mio::unix::SourceFd(&self.io.as_raw_fd());
        let reg = Registration::new(core, &mut source)?;
        // A datagram socket is almost always writable: the first send goes straight out
        // (a full socket buffer returns EAGAIN, and the next writable edge resumes it).
        reg.assume_ready(Direction::Write);
        Ok(self.imp.get_or_init(|| Imp::Readiness(reg)))
    }

    /// The loop the socket belongs to (once an operation has waited on it).
    pub(crate) fn core(&self) -> &Rc<Core> {
        match self.imp.get() {
            Some(Imp::Readiness(reg)) => reg.core(),
            #[cfg(target_os = "linux")]
            Some(Imp::Uring(u)) => u.core(),
            None => unreachable!("a datagram operation waits only once registered"),
        }
    }

    /// Receives one datagram into `buf`, with its sender.
    #[inline]
    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Received<D::From>>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_recv_from(reg, &self.io, cx, buf, true),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_recv_from(cx, buf).map_ok(from_ring::<D>),
        }
    }

    /// Receives one datagram from the connected peer into `buf`.
    #[inline]
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Received<D::From>>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_recv_from(reg, &self.io, cx, buf, false),
            // The kernel delivers only the connected peer's datagrams.
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_recv_from(cx, buf).map_ok(from_ring::<D>),
        }
    }

    /// Sends `buf` as one datagram to `to` (`None`: the connected peer). Never raises SIGPIPE.
    /// `Pending` with a destination on a socket whose edges prove nothing
    /// (`DatagramIo::SEND_TO_EDGES_UNRELIABLE`) registers no waker: retry on a timer.
    #[inline]
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: Option<&D::Addr>,
    ) -> Poll<io::Result<usize>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_send_to(reg, &self.io, cx, buf, to),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_send_to(cx, buf, to.and_then(D::to_ring)),
        }
    }

    /// Sets the default peer (`connect(2)` on a datagram socket: no packet is sent).
    pub(crate) fn connect(&self, addr: &D::Addr) -> io::Result<()> {
        socket2::SockRef::from(&self.io).connect(&D::to_sockaddr(addr))
    }

    /// Withdraws the wait of `direction` (its operation was dropped or timed out).
    #[inline]
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        match self.imp.get() {
            Some(Imp::Readiness(reg)) => reg.cancel_wait(direction),
            #[cfg(target_os = "linux")]
            Some(Imp::Uring(u)) => u.cancel_wait(direction),
            None => {}
        }
    }
}

/// A receive of the ring in the socket type's address.
#[cfg(target_os = "linux")]
fn from_ring<D: DatagramIo>(got: Received) -> Received<D::From> {
    Received {
        len: got.len,
        size: got.size,
        from: got.from.and_then(D::from_ring),
    }
}

/// `SocketError::NoEventLoop` as an `io::Error` (it converts back to itself).
fn no_loop() -> io::Error {
    crate::SocketError::NoEventLoop.into()
}
