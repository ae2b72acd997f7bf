//! The readiness driver: one `mio::Poll` per loop, sources registered once, edge-triggered.
//!
//! Each registered source owns a slot in a slab: its readiness bits and the waker of the task
//! waiting to read and of the one waiting to write. The `mio::Token` is the slot index with a
//! generation in the high bits, so an event for a slot that was freed and reused is ignored
//! instead of waking the wrong task.
//!
//! The socket types never call a system call themselves: they ask this module for an operation
//! (`poll_io` with the direction and the attempt), which is the seam where a completion-based
//! driver (io_uring) can take over without the public types changing.

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll as TaskPoll, Waker};
use std::time::Duration;

use crate::event_loop::Core;

/// The token of the loop's cross-thread `mio::Waker`.
pub(crate) const WAKE_TOKEN: Token = Token(usize::MAX);

const READABLE: u8 = 0b0001;
const WRITABLE: u8 = 0b0010;
const READ_CLOSED: u8 = 0b0100;
const WRITE_CLOSED: u8 = 0b1000;
const ERROR: u8 = 0b1_0000;
/// TCP urgent data arrived at some point. A read stops short at the urgent mark with data still
/// queued, so from then on a short read no longer proves the socket drained (sticky).
const URGENT: u8 = 0b10_0000;

/// Which side of a source an operation waits on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction make progress.
    fn ready_mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }

    /// The one bit an operation clears after `WouldBlock` (closed, error and urgent are final).
    fn clear_mask(self) -> u8 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// The waiter of one direction. The waker is kept after a wake-up so that the next wait by the
/// same task costs no clone; `state` says whether a task actually wants the next event.
///
/// Normally one task waits per direction (a socket's turns see to it), but nothing may hang if
/// two do (two tasks on one listener, or trait calls from two tasks through `&Socket`): the
/// wakers of other tasks are kept aside in `others` and woken with the next event.
#[derive(Default)]
pub(crate) struct Waiter {
    waker: Cell<Option<Waker>>,
    state: Cell<u8>,
    others: Cell<Vec<Waker>>,
}

/// `Waiter::state`: nobody waits.
const IDLE: u8 = 0;
/// The stored waker's task waits.
const WAITING: u8 = 1;
/// The stored waker's task waits, and so do the tasks in `others`.
const CROWDED: u8 = 2;

impl Waiter {
    #[inline]
    pub(crate) fn wait(&self, waker: &Waker) {
        let kept = match self.waker.take() {
            Some(w) if w.will_wake(waker) => w,
            Some(w) if self.state.get() != IDLE => {
                self.keep_aside(w);
                waker.clone()
            }
            _ => waker.clone(),
        };
        self.waker.set(Some(kept));
        if self.state.get() == IDLE {
            self.state.set(WAITING);
        }
    }

    /// Another task waits in the same direction: its waker is woken with the next event too.
    #[cold]
    fn keep_aside(&self, waker: Waker) {
        let mut others = self.others.take();
        if !others.iter().any(|w| w.will_wake(&waker)) {
            others.push(waker);
        }
        self.others.set(others);
        self.state.set(CROWDED);
    }

    #[inline]
    pub(crate) fn wake(&self) {
        match self.state.replace(IDLE) {
            IDLE => {}
            WAITING => self.wake_kept(),
            _ => {
                self.wake_kept();
                self.wake_others();
            }
        }
    }

    #[inline]
    fn wake_kept(&self) {
        if let Some(w) = self.waker.take() {
            // Waking only queues the task, so nothing can wait on this slot meanwhile.
            w.wake_by_ref();
            self.waker.set(Some(w));
        }
    }

    #[cold]
    fn wake_others(&self) {
        for w in self.others.take() {
            w.wake();
        }
    }

    /// Forgets the wait (the future was dropped or gave up); the waker is kept for reuse. Other
    /// tasks waiting here are woken to look again, since the event they wait for may be the
    /// one the cancelled wait would have passed on.
    #[inline]
    pub(crate) fn cancel(&self) {
        if self.state.replace(IDLE) == CROWDED {
            self.wake_others();
        }
    }

    /// Takes the stored wakers (teardown).
    pub(crate) fn take(&self) -> Vec<Waker> {
        self.state.set(IDLE);
        let mut out = self.others.take();
        out.extend(self.waker.take());
        out
    }
}

/// The state of one registered source, shared by its `Registration` (which reads it on every
/// operation without touching the slab) and the reactor's slab (which finds it from a token).
struct IoSlot {
    generation: u32,
    readiness: Cell<u8>,
    reader: Waiter,
    writer: Waiter,
}

impl IoSlot {
    fn waiter(&self, direction: Direction) -> &Waiter {
        match direction {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }
}

pub(crate) struct Reactor {
    poll: RefCell<Poll>,
    registry: Registry,
    events: RefCell<Events>,
    slots: RefCell<Slab<Rc<IoSlot>>>,
    generation: Cell<u32>,
    /// The last poll returned as many events as fit: more may be waiting.
    full: Cell<bool>,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Reactor {
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(Events::with_capacity(1024)),
            slots: RefCell::new(Slab::new()),
            generation: Cell::new(0),
            full: Cell::new(false),
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The multiplexer's own descriptor (the io_uring driver watches it).
    #[cfg(target_os = "linux")]
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.poll.borrow().as_raw_fd()
    }

    /// Whether the last `poll` filled its event buffer (so more readiness may be waiting).
    pub(crate) fn was_full(&self) -> bool {
        self.full.get()
    }

    /// Blocks in the multiplexer for at most `timeout`, then records readiness and wakes the
    /// waiting tasks. Returns whether the cross-thread waker fired.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut events = self.events.borrow_mut();
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        }
        let mut woken = false;
        let mut count = 0;
        for event in events.iter() {
            count += 1;
            let token = event.token();
            if token == WAKE_TOKEN {
                woken = true;
                continue;
            }
            let (index, generation) = split_token(token);
            // Hold the slot, not the slab, while waking: a waker that is not ours may run code
            // that registers or drops sockets.
            let slot = match self.slots.borrow().get(index) {
                Some(slot) if slot.generation == generation => slot.clone(),
                _ => continue,
            };
            let mut bits = 0;
            if event.is_readable() {
                bits |= READABLE;
            }
            if event.is_writable() {
                bits |= WRITABLE;
            }
            if event.is_read_closed() {
                bits |= READ_CLOSED;
            }
            if event.is_write_closed() {
                bits |= WRITE_CLOSED;
            }
            if event.is_priority() {
                bits |= URGENT | READABLE;
            }
            if event.is_error() {
                bits |= ERROR;
            }
            slot.readiness.set(slot.readiness.get() | bits);
            if bits & Direction::Read.ready_mask() != 0 {
                slot.reader.wake();
            }
            if bits & Direction::Write.ready_mask() != 0 {
                slot.writer.wake();
            }
        }
        self.full.set(count == events.capacity());
        Ok(woken)
    }

    /// How many sources are registered.
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Takes every stored waker (used when the loop is torn down, to break reference cycles
    /// between tasks and the loop). The caller drops them outside the borrow, because dropping
    /// a task may deregister its sockets.
    pub(crate) fn take_wakers(&self) -> Vec<Waker> {
        let mut out = Vec::new();
        for (_, slot) in self.slots.borrow().iter() {
            out.extend(slot.reader.take());
            out.extend(slot.writer.take());
        }
        out
    }

    fn insert(&self) -> (usize, Rc<IoSlot>) {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        let slot = Rc::new(IoSlot {
            generation,
            readiness: Cell::new(0),
            reader: Waiter::default(),
            writer: Waiter::default(),
        });
        let index = self.slots.borrow_mut().insert(slot.clone());
        (index, slot)
    }
}

/// Read and write readiness, plus urgent-data notification where the platform has it.
fn interest() -> Interest {
    let interest = Interest::READABLE | Interest::WRITABLE;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let interest = interest | Interest::PRIORITY;
    interest
}

fn split_token(token: Token) -> (usize, u32) {
    (token.0 & 0xffff_ffff, (token.0 >> 32) as u32)
}

fn make_token(index: usize, generation: u32) -> Token {
    Token(index | ((generation as usize) << 32))
}

/// A source registered with a loop's reactor; deregisters (and frees its slot) when dropped.
pub(crate) struct Registration {
    core: Rc<Core>,
    slot: Rc<IoSlot>,
    index: usize,
}

impl Registration {
    /// Registers `source` for edge-triggered read and write readiness.
    pub(crate) fn new(core: Rc<Core>, source: &mut impl Source) -> io::Result<Registration> {
        let (index, slot) = core.reactor.insert();
        let token = make_token(index, slot.generation);
        if let Err(e) = core.reactor.registry.register(source, token, interest()) {
            core.reactor.slots.borrow_mut().remove(index);
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
        let slot = self.core.reactor.slots.borrow_mut().try_remove(self.index);
        drop(slot);
        let wakers = (self.slot.reader.take(), self.slot.writer.take());
        drop(wakers);
    }
}
