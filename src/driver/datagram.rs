//! `Datagram`: a UDP socket's I/O, the same operations on either driver.
//!
//! As for [`Stream`](super::Stream), every operation is a `poll`: `Pending` means the task's
//! waker is registered; a timeout is the caller's (it withdraws the wait with `cancel_wait`).
//! One operation per direction is polled at a time (the socket's turns see to it).
//!
//! Both drivers serve datagram sockets through the readiness reactor for now (on io_uring the
//! socket is registered with the epoll instance the ring watches, as listeners are): the
//! interface is shaped for a completion version (a multishot `recvmsg` feeding a bounded
//! per-socket queue, sends owning their buffer and address) to replace `Imp::Readiness` on
//! io_uring without any change above this file.

use std::cell::OnceCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::Direction;
use super::epoll::{self, Registration};
use crate::event_loop::{self, Core};

/// What one receive brought.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    /// Bytes copied into the caller's buffer.
    pub(crate) len: usize,
    /// The datagram's full length (more than `len`: it was truncated to the buffer).
    pub(crate) size: usize,
    /// The sender (`None` from `poll_recv`: the connected peer).
    pub(crate) from: Option<SocketAddr>,
}

/// A UDP socket's driver side and its descriptor. It joins the loop that runs its first
/// operation (so it can be made before the loop runs).
pub(crate) struct Datagram {
    imp: OnceCell<Imp>,
    io: mio::net::UdpSocket,
}

enum Imp {
    /// Readiness (epoll, kqueue; io_uring loops too, for now): `recvfrom`/`sendto` when the
    /// reactor says the socket is ready.
    Readiness(Registration),
}

impl Datagram {
    /// A bound, non-blocking socket.
    pub(crate) fn new(io: std::net::UdpSocket) -> Datagram {
        Datagram {
            imp: OnceCell::new(),
            io: mio::net::UdpSocket::from_std(io),
        }
    }

    /// The descriptor (for socket options and addresses).
    pub(crate) fn io(&self) -> &mio::net::UdpSocket {
        &self.io
    }

    /// The driver side, set up with the running loop at the first operation.
    fn imp(&self) -> io::Result<&Imp> {
        if let Some(imp) = self.imp.get() {
            return Ok(imp);
        }
        let core = event_loop::current().ok_or_else(no_loop)?;
        // Registration needs `&mut` only for mio's bookkeeping on other platforms; the
        // descriptor itself is what epoll watches.
        let mut source = mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&self.io));
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
            None => unreachable!("a datagram operation waits only once registered"),
        }
    }

    /// Receives one datagram into `buf`, with its sender.
    #[inline]
    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Received>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_recv_from(reg, &self.io, cx, buf, true),
        }
    }

    /// Receives one datagram from the connected peer into `buf`.
    #[inline]
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Received>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_recv_from(reg, &self.io, cx, buf, false),
        }
    }

    /// Sends `buf` as one datagram to `to` (`None`: the connected peer). Never raises SIGPIPE.
    #[inline]
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: Option<SocketAddr>,
    ) -> Poll<io::Result<usize>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_send_to(reg, &self.io, cx, buf, to),
        }
    }

    /// Sets the default peer (`connect(2)` on a datagram socket: no packet is sent).
    pub(crate) fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.io.connect(addr)
    }

    /// Withdraws the wait of `direction` (its operation was dropped or timed out).
    #[inline]
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        match self.imp.get() {
            Some(Imp::Readiness(reg)) => reg.cancel_wait(direction),
            None => {}
        }
    }
}

/// `SocketError::NoEventLoop` as an `io::Error` (it converts back to itself).
fn no_loop() -> io::Error {
    crate::SocketError::NoEventLoop.into()
}
