//! `Datagram`: a UDP socket's I/O, the same operations on either driver.
//!
//! As for [`Stream`](super::Stream), every operation is a `poll`: `Pending` means the task's
//! waker is registered; a timeout is the caller's (it withdraws the wait with `cancel_wait`).
//! One operation per direction is polled at a time (the socket's turns see to it).
//!
//! On epoll the socket is served by the readiness reactor (`recvfrom`/`sendto` when ready,
//! epoll/datagram.rs); on io_uring by completions (uring/datagram.rs): a multishot `recvmsg`
//! feeding a bounded per-socket queue, sends owning their bytes and address until they
//! complete. The match between the two is here, so nothing above this file names a backend.

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
    /// Declared before `io`: the io_uring side cancels its operations before the descriptor
    /// closes.
    imp: OnceCell<Imp>,
    io: mio::net::UdpSocket,
}

enum Imp {
    /// Readiness (epoll, kqueue): `recvfrom`/`sendto` when the reactor says the socket is ready.
    Readiness(Registration),
    /// Completion (io_uring): a multishot `recvmsg` into the socket's queue, owned sends.
    #[cfg(target_os = "linux")]
    Uring(super::uring::Datagram),
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
        #[cfg(target_os = "linux")]
        if let Some(uring) = core.driver.uring().cloned() {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&self.io);
            let imp = Imp::Uring(super::uring::Datagram::new(core, uring, fd)?);
            return Ok(self.imp.get_or_init(|| imp));
        }
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
    ) -> Poll<io::Result<Received>> {
        match self.imp()? {
            Imp::Readiness(reg) => epoll::poll_recv_from(reg, &self.io, cx, buf, true),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_recv_from(cx, buf),
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
            // The kernel delivers only the connected peer's datagrams.
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_recv_from(cx, buf),
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
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_send_to(cx, buf, to),
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
            #[cfg(target_os = "linux")]
            Some(Imp::Uring(u)) => u.cancel_wait(direction),
            None => {}
        }
    }
}

/// `SocketError::NoEventLoop` as an `io::Error` (it converts back to itself).
fn no_loop() -> io::Error {
    crate::SocketError::NoEventLoop.into()
}
