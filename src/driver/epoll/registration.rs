//! `Registration`: a source registered with the readiness reactor (listeners, signals and
//! connects on both drivers; every connection on epoll).

use std::io;
use std::rc::Rc;
use std::task::{Context, Poll as TaskPoll};

use mio::event::Source;

use super::{Direction, IoSlot, URGENT, interest, make_token};
use crate::event_loop::Core;

/// A source registered with a loop's reactor; deregisters (and frees its slot) when dropped.
pub(crate) struct Registration {
    core: Rc<Core>,
    slot: Rc<IoSlot>,
    index: usize,
}

impl Registration {
    /// Registers `source` for edge-triggered read and write readiness.
    pub(crate) fn new(core: Rc<Core>, source: &mut impl Source) -> io::Result<Registration> {
        let (index, slot) = core.driver.reactor().insert();
        let token = make_token(index, slot.generation);
        if let Err(e) = core
            .driver
            .reactor()
            .registry
            .register(source, token, interest())
        {
            core.driver.reactor().slots.borrow_mut().remove(index);
            return Err(e);
        }
        Ok(Registration { core, slot, index })
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Runs `attempt` when the source is ready in `direction`, retrying after `WouldBlock` once
    /// the reactor reports readiness again. `attempt` returns the result and whether it proved
    /// the source drained (a short read or write), which saves the system call that would only
    /// return `EAGAIN`.
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut attempt: impl FnMut() -> io::Result<(R, bool)>,
    ) -> TaskPoll<io::Result<R>> {
        loop {
            if !self.is_ready(direction) {
                self.wait(cx, direction);
                return TaskPoll::Pending;
            }
            match attempt() {
                Ok((r, drained)) => {
                    if drained
                        && (direction == Direction::Write
                            || self.slot.readiness.get() & URGENT == 0)
                    {
                        self.clear(direction);
                    }
                    return TaskPoll::Ready(Ok(r));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(direction),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return TaskPoll::Ready(Err(e)),
            }
        }
    }

    /// Forgets the waiter of `direction` (its future was dropped or finished another way).
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        self.slot.waiter(direction).cancel();
    }

    /// Wakes the task waiting in `direction` (used by `close()` to end a pending accept).
    pub(crate) fn wake(&self, direction: Direction) {
        self.slot.waiter(direction).wake();
    }

    #[inline]
    pub(crate) fn is_ready(&self, direction: Direction) -> bool {
        self.slot.readiness.get() & direction.ready_mask() != 0
    }

    /// Marks `direction` ready without an event (a datagram socket starts out writable).
    pub(crate) fn assume_ready(&self, direction: Direction) {
        let readiness = &self.slot.readiness;
        readiness.set(readiness.get() | direction.clear_mask());
    }

    /// After `EAGAIN` on a datagram socket: clears `direction` and the error bit (a datagram
    /// socket's error is one ICMP report, consumed by the call that returned it).
    pub(crate) fn clear_with_error(&self, direction: Direction) {
        let readiness = &self.slot.readiness;
        readiness.set(readiness.get() & !(direction.clear_mask() | super::ERROR));
    }

    #[inline]
    fn clear(&self, direction: Direction) {
        let readiness = &self.slot.readiness;
        readiness.set(readiness.get() & !direction.clear_mask());
    }

    #[inline]
    pub(crate) fn wait(&self, cx: &mut Context<'_>, direction: Direction) {
        self.slot.waiter(direction).wait(cx.waker());
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Release the slab's borrow before the slot (and its wakers) can be dropped: dropping a
        // task's last waker can drop the task, whose sockets then need the slab again.
        let slot = self
            .core
            .driver
            .reactor()
            .slots
            .borrow_mut()
            .try_remove(self.index);
        drop(slot);
        let wakers = (self.slot.reader.take(), self.slot.writer.take());
        drop(wakers);
        self.core.driver.reactor().spare(&self.slot);
    }
}
