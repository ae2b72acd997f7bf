//! The drivers: how operations reach the kernel. The rest of the crate sees two things here:
//!
//! - [`Driver`], one per loop: set up with a [`Backend`](crate::Backend), it waits for I/O once
//!   per loop turn and wakes the tasks whose operations can proceed;
//! - [`Stream`], one per connected socket: operation-shaped I/O (read into the caller's buffer,
//!   into a vector, through a callback; write slices or an owned vector; flush, shut down,
//!   withdraw a wait), each a `poll` that returns `Pending` with the task's waker registered, or
//!   the outcome, errors as `io::Error`;
//!
//! plus [`ListenSource`], a listener's link to its loop (readiness on epoll, a multishot accept
//! on io_uring), and [`Registration`], a readiness source (signals and connects use readiness on
//! both drivers; io_uring watches the epoll descriptor from its ring).
//!
//! The backend is matched here, in `stream.rs` and in `listen.rs` only: `epoll/` is the readiness driver (mio:
//! epoll, kqueue), `uring/` the completion driver (Linux; every `unsafe` block of the crate).

mod cred;
pub(crate) mod datagram;
pub(crate) mod epoll;
mod listen;
mod stream;
#[cfg(target_os = "linux")]
pub(crate) mod uring;
mod waiter;

use std::io;
#[cfg(target_os = "linux")]
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

pub(crate) use cred::peer_cred;
pub(crate) use datagram::{Datagram, DatagramIo, Received};
pub(crate) use epoll::{Reactor, Registration, WAKE_TOKEN};
pub(crate) use listen::{Accepted, ListenSource};
pub(crate) use stream::{Stream, StreamIo};
pub(crate) use waiter::Waiter;

/// Which side of a source an operation waits on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// What a read found.
pub(crate) enum ReadOutcome<R> {
    Data(R),
    Eof,
}

/// A loop's driver: the readiness reactor, and the io_uring ring when the loop runs on it.
pub(crate) struct Driver {
    /// The completion driver (declared first: it is dropped before the reactor whose descriptor
    /// it watches).
    #[cfg(target_os = "linux")]
    uring: Option<Rc<uring::Uring>>,
    reactor: Reactor,
}

/// What a driver holds (for `Stats`).
pub(crate) struct DriverStats {
    pub(crate) sources: usize,
    pub(crate) operations: usize,
}

impl Driver {
    /// Sets up the driver `backend` asks for. `Auto` falls back to epoll when the kernel refuses
    /// io_uring, and says why in the second value.
    pub(crate) fn new(
        backend: crate::Backend,
        linger_timeout: Option<Duration>,
    ) -> io::Result<(Driver, Option<String>)> {
        use crate::Backend;
        let reactor = Reactor::new()?;
        #[cfg(target_os = "linux")]
        {
            let uring = match backend {
                Backend::Epoll => {
                    return Ok((
                        Driver {
                            uring: None,
                            reactor,
                        },
                        None,
                    ));
                }
                Backend::Auto | Backend::IoUring => uring::Uring::new(
                    reactor.raw_fd(),
                    linger_timeout.unwrap_or(uring::LINGER_STALL),
                ),
            };
            match uring {
                Ok(u) => Ok((
                    Driver {
                        uring: Some(Rc::new(u)),
                        reactor,
                    },
                    None,
                )),
                Err(reason) if backend == Backend::Auto => {
                    crate::trace::event!(warn, %reason, "falling back to epoll");
                    Ok((
                        Driver {
                            uring: None,
                            reactor,
                        },
                        Some(reason),
                    ))
                }
                Err(reason) => Err(io::Error::new(io::ErrorKind::Unsupported, reason)),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = linger_timeout;
            let reason = "io_uring exists only on Linux";
            match backend {
                Backend::Epoll => Ok((Driver { reactor }, None)),
                Backend::Auto => Ok((Driver { reactor }, Some(reason.to_string()))),
                Backend::IoUring => Err(io::Error::new(io::ErrorKind::Unsupported, reason)),
            }
        }
    }

    /// The readiness reactor (every loop has one: listeners, signals, the cross-thread waker).
    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// The io_uring driver, if the loop runs on it.
    #[cfg(target_os = "linux")]
    pub(crate) fn uring(&self) -> Option<&Rc<uring::Uring>> {
        self.uring.as_ref()
    }

    /// The name of the driver: `"io_uring"`, `"epoll"` or `"kqueue"`.
    pub(crate) fn name(&self) -> &'static str {
        #[cfg(target_os = "linux")]
        if self.uring.is_some() {
            return "io_uring";
        }
        epoll::name()
    }

    /// Waits for I/O for at most `timeout` (zero: only look), then wakes the tasks whose
    /// operations can proceed. Returns whether the cross-thread waker fired.
    #[inline]
    pub(crate) fn turn(&self, timeout: Option<Duration>) -> io::Result<bool> {
        #[cfg(target_os = "linux")]
        if let Some(u) = &self.uring {
            return u.turn(timeout, &self.reactor);
        }
        self.reactor.poll(timeout)
    }

    /// `block_on` starts (`true`) or returns (`false`: io_uring then submits what is queued,
    /// closing the descriptors of the sockets dropped in the last turn).
    pub(crate) fn set_running(&self, running: bool) {
        #[cfg(target_os = "linux")]
        if let Some(u) = &self.uring {
            u.set_running(running);
        }
        let _ = running;
    }

    /// Whether the next turn must not block (readiness is left over from this one).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(u) = &self.uring {
            return u.has_pending();
        }
        false
    }

    pub(crate) fn stats(&self) -> DriverStats {
        #[cfg(target_os = "linux")]
        let operations = self.uring.as_ref().map_or(0, |u| u.len());
        #[cfg(not(target_os = "linux"))]
        let operations = 0;
        DriverStats {
            sources: self.reactor.len(),
            operations,
        }
    }

    /// Takes every waker the driver stores (the loop is being torn down).
    pub(crate) fn take_wakers(&self) -> Vec<Waker> {
        self.reactor.take_wakers()
    }

    /// Dropped sockets whose written bytes are still on their way in user space (io_uring).
    pub(crate) fn lingering_sends(&self) -> usize {
        #[cfg(target_os = "linux")]
        if let Some(u) = &self.uring {
            return u.lingering();
        }
        0
    }

    /// A deadline has passed: the lingering sends are handed to the kernel or reset now.
    pub(crate) fn give_up_lingering_sends(&self) {
        #[cfg(target_os = "linux")]
        if let Some(u) = &self.uring {
            u.give_up_lingering();
        }
    }
}
