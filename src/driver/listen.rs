//! `ListenSource`: how a listener learns of new connections, the same on both drivers. On epoll
//! the listener is a readiness source and each connection is an `accept4` once it is readable;
//! on io_uring one multishot accept on the ring accepts them (`uring/accept.rs`), and a
//! connection is taken from its queue.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::event::Source;

use super::{Direction, Registration};
use crate::event_loop::Core;

/// A listener's link to the loop it accepts on (made at its first accept, made again when it
/// accepts on another loop).
pub(crate) struct ListenSource {
    imp: Imp,
    /// Connections another loop's ring accepted and nobody took before the listener moved here:
    /// taken first.
    carried: RefCell<VecDeque<OwnedFd>>,
}

enum Imp {
    Epoll(Registration),
    #[cfg(target_os = "linux")]
    Uring(super::uring::Acceptor),
}

/// How an accept comes back: a descriptor `accept4` gave on readiness, or one the ring
/// accepted (its caller still has to make it a socket, and learn its peer's address when the
/// ring did not give it).
pub(crate) enum Accepted<R> {
    Ready(R),
    Adopt(OwnedFd, Option<SocketAddr>),
}

impl ListenSource {
    /// Joins `core`'s loop; `carried` are connections accepted elsewhere, handed out first.
    pub(crate) fn new(
        core: Rc<Core>,
        io: &mut (impl Source + AsRawFd),
        carried: VecDeque<OwnedFd>,
    ) -> io::Result<ListenSource> {
        #[cfg(target_os = "linux")]
        if let Some(uring) = core.driver.uring().cloned() {
            let fd = io.as_raw_fd();
            return Ok(ListenSource {
                imp: Imp::Uring(super::uring::Acceptor::new(core, uring, fd)),
                carried: RefCell::new(carried),
            });
        }
        Ok(ListenSource {
            imp: Imp::Epoll(Registration::new(core, io)?),
            carried: RefCell::new(carried),
        })
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        match &self.imp {
            Imp::Epoll(reg) => reg.core(),
            #[cfg(target_os = "linux")]
            Imp::Uring(a) => a.core(),
        }
    }

    /// The next connection: `attempt` (`accept4`) when the listener is readable (epoll), or a
    /// descriptor the ring accepted; else waits.
    #[inline]
    pub(crate) fn poll_accept<R>(
        &self,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<Accepted<R>>> {
        if let Some(fd) = self.carried.borrow_mut().pop_front() {
            return Poll::Ready(Ok(Accepted::Adopt(fd, None)));
        }
        match &self.imp {
            Imp::Epoll(reg) => reg
                .poll_io(cx, Direction::Read, || attempt().map(|r| (r, false)))
                .map_ok(Accepted::Ready),
            #[cfg(target_os = "linux")]
            Imp::Uring(a) => a
                .poll_accept(cx)
                .map_ok(|(fd, peer)| Accepted::Adopt(fd, peer)),
        }
    }

    /// The listener waits at its connection limit: stop accepting (io_uring cancels its
    /// multishot accept; on epoll nothing is accepted unless asked anyway).
    pub(crate) fn pause(&self) {
        #[cfg(target_os = "linux")]
        if let Imp::Uring(a) = &self.imp {
            a.pause();
        }
    }

    /// Withdraws the accepting task's waker (its accept was dropped or timed out).
    pub(crate) fn cancel_wait(&self) {
        match &self.imp {
            Imp::Epoll(reg) => reg.cancel_wait(Direction::Read),
            #[cfg(target_os = "linux")]
            Imp::Uring(a) => a.cancel_wait(),
        }
    }

    /// Wakes the accepting task (the listener closed).
    pub(crate) fn wake(&self) {
        match &self.imp {
            Imp::Epoll(reg) => reg.wake(Direction::Read),
            #[cfg(target_os = "linux")]
            Imp::Uring(a) => a.wake(),
        }
    }

    /// Stops accepting for good, before the listener's descriptor is closed (a multishot
    /// accept in flight would keep the socket listening); the connections accepted and not
    /// taken are closed.
    pub(crate) fn stop(&self) {
        self.carried.borrow_mut().clear();
        #[cfg(target_os = "linux")]
        if let Imp::Uring(a) = &self.imp {
            drop(a.stop());
        }
    }

    /// Leaves this loop (the listener moves to another one): deregisters from the reactor, or
    /// ends the multishot accept; gives back the connections accepted and not taken.
    pub(crate) fn leave(self, io: &mut impl Source) -> VecDeque<OwnedFd> {
        let mut carried = self.carried.take();
        match &self.imp {
            Imp::Epoll(reg) => {
                // It fails only if that loop's epoll instance no longer watches the descriptor.
                let _ = reg.core().driver.reactor().registry().deregister(io);
            }
            #[cfg(target_os = "linux")]
            Imp::Uring(a) => carried.extend(a.stop()),
        }
        carried
    }
}
