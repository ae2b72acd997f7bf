//! The state every socket operation shares, and the one timeout / waiter protocol: an optional
//! timeout, armed only once the operation has to wait, whether a waker is registered (so a
//! dropped or timed-out operation withdraws it), and the operation's place in its socket's turn.
//!
//! Connected sockets go through [`OpState::poll_stream`] (either driver), datagram sockets through
//! [`OpState::poll_datagram`], readiness sources (listeners) through [`OpState::poll_ready`];
//! all wait and time out the same way.

use std::io;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::turn::Ticket;
use crate::driver::{
    Accepted, Datagram, DatagramIo, Direction, ListenSource, Registration, Stream, StreamIo,
};
use crate::event_loop::{self, Core};
use crate::time::Deadline;

#[derive(Default)]
pub(crate) struct OpState {
    pub(crate) timeout: Option<Duration>,
    deadline: Option<Deadline>,
    waiting: bool,
    /// The operation's place in its socket's turn for this direction.
    pub(crate) ticket: Ticket,
    /// The operation made progress since `deadline` was set: it restarts at the next wait.
    restart: bool,
    /// The stream's write progress count when last seen (io_uring's write-behind send).
    progress_seen: u32,
}

/// The outcome of one poll of a readiness operation.
pub(crate) enum OpPoll<R> {
    Done(io::Result<R>),
    TimedOut(Duration),
}

impl OpState {
    pub(crate) fn new(timeout: Option<Duration>) -> OpState {
        OpState {
            timeout,
            ..OpState::default()
        }
    }

    /// One poll of the stream operation `attempt` in `direction`: its outcome, `Pending` while
    /// it waits, or `Err(timeout)` (wait withdrawn) once the timeout has run out.
    #[inline]
    pub(crate) fn poll_stream<S: StreamIo, T>(
        &mut self,
        stream: &Stream<S>,
        direction: Direction,
        cx: &mut Context<'_>,
        attempt: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<Result<io::Result<T>, Duration>> {
        if let Poll::Ready(r) = attempt(cx) {
            self.waiting = false;
            return Poll::Ready(Ok(r));
        }
        if !event_loop::is_current(stream.core()) {
            // As for datagrams (poll_datagram): its loop is not the one running here.
            stream.cancel_wait(direction);
            self.waiting = false;
            return Poll::Ready(Ok(Err(other_loop())));
        }
        if direction == Direction::Write {
            // Bytes taken earlier still moving (write-behind) restart a write's stall clock.
            let progress = stream.write_progress();
            if progress != self.progress_seen {
                self.progress_seen = progress;
                self.progress();
            }
        }
        match self.wait_registered(stream.core(), cx) {
            Some(after) => {
                stream.cancel_wait(direction);
                Poll::Ready(Err(after))
            }
            None => Poll::Pending,
        }
    }

    /// One poll of the datagram operation `attempt` (a UDP or Unix datagram socket's receive or
    /// send): as
    /// [`poll_stream`](OpState::poll_stream), without a write-behind progress count.
    #[inline]
    pub(crate) fn poll_datagram<D: DatagramIo, T>(
        &mut self,
        dgram: &Datagram<D>,
        direction: Direction,
        cx: &mut Context<'_>,
        attempt: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<Result<io::Result<T>, Duration>> {
        if let Poll::Ready(r) = attempt(cx) {
            self.waiting = false;
            return Poll::Ready(Ok(r));
        }
        if !event_loop::is_current(dgram.core()) {
            // Registered with a loop that is not running here (one that ended): waiting there
            // would never end, and its timers never fire.
            dgram.cancel_wait(direction);
            self.waiting = false;
            return Poll::Ready(Ok(Err(other_loop())));
        }
        match self.wait_registered(dgram.core(), cx) {
            Some(after) => {
                dgram.cancel_wait(direction);
                Poll::Ready(Err(after))
            }
            None => Poll::Pending,
        }
    }

    /// Tries `attempt` when the readiness source is ready; otherwise waits, unless the timeout
    /// has run out.
    #[inline]
    pub(crate) fn poll_ready<R>(
        &mut self,
        reg: &Registration,
        direction: Direction,
        cx: &mut Context<'_>,
        attempt: impl FnMut() -> io::Result<(R, bool)>,
    ) -> Poll<OpPoll<R>> {
        match reg.poll_io(cx, direction, attempt) {
            Poll::Ready(r) => {
                self.waiting = false;
                Poll::Ready(OpPoll::Done(r))
            }
            Poll::Pending => match self.wait_registered(reg.core(), cx) {
                Some(after) => {
                    reg.cancel_wait(direction);
                    Poll::Ready(OpPoll::TimedOut(after))
                }
                None => Poll::Pending,
            },
        }
    }

    /// One poll of a listener's accept (`attempt` is `accept4` on readiness): as
    /// [`poll_ready`](OpState::poll_ready), on either driver's listening source.
    #[inline]
    pub(crate) fn poll_listen<R>(
        &mut self,
        src: &ListenSource,
        cx: &mut Context<'_>,
        attempt: impl FnMut() -> io::Result<R>,
    ) -> Poll<OpPoll<Accepted<R>>> {
        match src.poll_accept(cx, attempt) {
            Poll::Ready(r) => {
                self.waiting = false;
                Poll::Ready(OpPoll::Done(r))
            }
            Poll::Pending => match self.wait_registered(src.core(), cx) {
                Some(after) => {
                    src.cancel_wait();
                    Poll::Ready(OpPoll::TimedOut(after))
                }
                None => Poll::Pending,
            },
        }
    }

    /// The waker is registered: `None` while waiting, `Some(timeout)` once the deadline has
    /// passed (the caller withdraws the waker).
    #[inline]
    fn wait_registered(&mut self, core: &Rc<Core>, cx: &mut Context<'_>) -> Option<Duration> {
        self.waiting = true;
        let after = self.poll_deadline(core, cx)?;
        self.waiting = false;
        Some(after)
    }

    /// `Some(timeout)` once the deadline has passed.
    #[inline]
    pub(crate) fn poll_deadline(
        &mut self,
        core: &Rc<Core>,
        cx: &mut Context<'_>,
    ) -> Option<Duration> {
        let after = self.timeout?;
        if std::mem::take(&mut self.restart)
            && let Some(deadline) = &mut self.deadline
        {
            deadline.restart(after);
        }
        let deadline = self.deadline.get_or_insert_with(|| Deadline::after(after));
        deadline.poll_elapsed(core, cx).then_some(after)
    }

    /// The operation made progress: its timeout starts again from the next wait (so a write
    /// timeout bounds a stall, not the time a large write takes). The armed timer is kept for
    /// that wait (`Deadline::restart`).
    #[inline]
    pub(crate) fn progress(&mut self) {
        if self.deadline.is_some() {
            self.restart = true;
        }
    }

    /// The timeout was turned off (a socket's default, for its trait-level operations): the
    /// deadline goes, and with it a timer still armed from an earlier wait (kept there by
    /// `progress`), so a socket without a timeout holds no timer and wakes nobody later.
    pub(crate) fn drop_deadline(&mut self) {
        self.deadline = None;
        self.restart = false;
    }

    /// Withdraws the readiness waker if this operation registered one.
    pub(crate) fn cancel(&mut self, reg: &Registration, direction: Direction) {
        if self.take_waiting() {
            reg.cancel_wait(direction);
        }
    }

    /// Whether the operation neither waits nor holds or waits for a turn (the common case for a
    /// future dropped after it completed: nothing to clean up).
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        !self.waiting && self.ticket == Ticket::NONE
    }

    /// Whether the operation left a waker behind (clearing the flag): its owner withdraws it.
    pub(crate) fn take_waiting(&mut self) -> bool {
        std::mem::replace(&mut self.waiting, false)
    }
}

/// A socket registered with another event loop is used where that loop does not run.
#[cold]
fn other_loop() -> io::Error {
    io::Error::other(
        "the socket belongs to another event loop (one that has ended, or another thread's); \
         make the socket inside the loop that uses it",
    )
}
