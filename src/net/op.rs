//! The state every socket future shares: an optional timeout, armed only once the operation has
//! to wait, and whether a waker is registered (so a dropped future withdraws it).

use std::task::{Context, Poll};
use std::time::Duration;
use std::{io, rc::Rc};

use super::turn::Ticket;
use crate::event_loop::Core;
use crate::reactor::{Direction, Registration};
use crate::time::Deadline;

#[derive(Default)]
pub(crate) struct OpState {
    pub(crate) timeout: Option<Duration>,
    deadline: Option<Deadline>,
    waiting: bool,
    /// The operation's place in its socket's turn for this direction.
    pub(crate) ticket: Ticket,
}

/// The outcome of one poll of an operation.
pub(crate) enum OpPoll<R> {
    Done(io::Result<R>),
    TimedOut(Duration),
}

impl OpState {
    pub(crate) fn new(timeout: Option<Duration>) -> OpState {
        OpState {
            timeout,
            deadline: None,
            waiting: false,
            ticket: Ticket::None,
        }
    }

    /// Tries `attempt` when ready; otherwise waits, unless the timeout has run out.
    #[inline]
    pub(crate) fn poll<R>(
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
            Poll::Pending => match self.wait_registered(reg, direction, cx) {
                Some(after) => Poll::Ready(OpPoll::TimedOut(after)),
                None => Poll::Pending,
            },
        }
    }

    /// The source is not ready: registers the waker and waits; `Some(timeout)` (waker withdrawn)
    /// once the timeout has run out. Lets a caller skip its preparations for an attempt that
    /// cannot succeed.
    #[inline]
    pub(crate) fn wait(
        &mut self,
        reg: &Registration,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Option<Duration> {
        reg.wait(cx, direction);
        self.wait_registered(reg, direction, cx)
    }

    /// The waker is registered: `None` while waiting, `Some(timeout)` (withdrawing the waker)
    /// once the deadline has passed.
    #[inline]
    fn wait_registered(
        &mut self,
        reg: &Registration,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Option<Duration> {
        self.waiting = true;
        let after = self.poll_deadline(reg.core(), cx)?;
        self.cancel(reg, direction);
        Some(after)
    }

    /// `Some(timeout)` once the deadline has passed.
    pub(crate) fn poll_deadline(
        &mut self,
        core: &Rc<Core>,
        cx: &mut Context<'_>,
    ) -> Option<Duration> {
        let after = self.timeout?;
        let deadline = self.deadline.get_or_insert_with(|| Deadline::after(after));
        deadline.poll_elapsed(core, cx).then_some(after)
    }

    /// The operation made progress: its timeout starts again from the next wait (so a write
    /// timeout bounds a stall, not the time a large write takes).
    #[inline]
    pub(crate) fn progress(&mut self) {
        if self.deadline.is_some() {
            self.deadline = None;
        }
    }

    /// Withdraws the waker if this operation registered one.
    pub(crate) fn cancel(&mut self, reg: &Registration, direction: Direction) {
        if self.take_waiting() {
            reg.cancel_wait(direction);
        }
    }

    /// Whether the operation left a waker behind (clearing the flag): its owner withdraws it.
    pub(crate) fn take_waiting(&mut self) -> bool {
        std::mem::replace(&mut self.waiting, false)
    }

    /// Records whether the operation left a waker behind (for drivers that wait elsewhere).
    #[cfg(target_os = "linux")]
    pub(crate) fn set_waiting(&mut self, waiting: bool) {
        self.waiting = waiting;
    }
}
