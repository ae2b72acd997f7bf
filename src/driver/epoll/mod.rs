//! The readiness driver: one `mio::Poll` per loop, sources registered once, edge-triggered.
//!
//! Each registered source owns a slot in a slab: its readiness bits and the waker of the task
//! waiting to read and of the one waiting to write. The `mio::Token` is the slot index with a
//! generation in the high bits, so an event for a slot that was freed and reused is ignored
//! instead of waking the wrong task.
//!
mod datagram;
mod registration;
mod stream;

use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

pub(crate) use datagram::{poll_recv_from, poll_send_to};
pub(crate) use registration::Registration;
pub(crate) use stream::{
    connected, poll_read_into, poll_read_scratch, poll_read_uninit, poll_write, poll_write_vectored,
};

use super::{Direction, Waiter};

/// Flags for `send(2)` and `sendto(2)`: never raise SIGPIPE on a reset peer. (Apple platforms
/// have no `MSG_NOSIGNAL`: their TCP sockets set `SO_NOSIGPIPE` when made, and a UDP send does not
/// raise SIGPIPE.)
#[cfg(not(target_vendor = "apple"))]
pub(crate) const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(target_vendor = "apple")]
pub(crate) const SEND_FLAGS: libc::c_int = 0;

/// The token of the loop's cross-thread `mio::Waker`.
pub(crate) const WAKE_TOKEN: Token = Token(usize::MAX);

const READABLE: u8 = 0b0001;
const WRITABLE: u8 = 0b0010;
const READ_CLOSED: u8 = 0b0100;
const WRITE_CLOSED: u8 = 0b1000;
pub(super) const ERROR: u8 = 0b1_0000;
/// TCP urgent data arrived at some point. A read stops short at the urgent mark with data still
/// queued, so from then on a short read no longer proves the socket drained (sticky).
pub(super) const URGENT: u8 = 0b10_0000;

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

/// The state of one registered source, shared by its `Registration` (which reads it on every
/// operation without touching the slab) and the reactor's slab (which finds it from a token).
pub(super) struct IoSlot {
    generation: u32,
    readiness: Cell<u8>,
    reader: Waiter,
    writer: Waiter,
}

impl IoSlot {
    fn new(generation: u32) -> IoSlot {
        IoSlot {
            generation,
            readiness: Cell::new(0),
            reader: Waiter::default(),
            writer: Waiter::default(),
        }
    }

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
    /// Slots of dropped registrations that nothing else held, kept for the next ones (at most
    /// `SPARE_SLOTS`: a connection's slot is reused instead of allocated).
    spare: RefCell<Vec<Rc<IoSlot>>>,
}

/// The most slots of dropped registrations a reactor keeps for reuse (a few dozen bytes each).
const SPARE_SLOTS: usize = 32;

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
            spare: RefCell::new(Vec::new()),
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

    pub(super) fn insert(&self) -> (usize, Rc<IoSlot>) {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        let mut spare = self.spare.borrow_mut().pop();
        let slot = match spare.as_mut().and_then(Rc::get_mut) {
            Some(s) => {
                // A whole new slot (the old generation's events are ignored).
                *s = IoSlot::new(generation);
                spare.take().expect("a spare slot")
            }
            None => Rc::new(IoSlot::new(generation)),
        };
        let index = self.slots.borrow_mut().insert(slot.clone());
        (index, slot)
    }

    /// A registration is dropped (its slot out of the slab, its wakers dropped): if nothing
    /// else holds the slot, it is kept for the next registration (`insert`).
    pub(super) fn spare(&self, slot: &Rc<IoSlot>) {
        if Rc::strong_count(slot) != 1 || Rc::weak_count(slot) != 0 {
            return;
        }
        let mut spare = self.spare.borrow_mut();
        if spare.len() < SPARE_SLOTS {
            spare.push(slot.clone());
        }
    }
}

/// Read and write readiness, plus urgent-data notification where the platform has it.
pub(super) fn interest() -> Interest {
    let interest = Interest::READABLE | Interest::WRITABLE;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let interest = interest | Interest::PRIORITY;
    interest
}

fn split_token(token: Token) -> (usize, u32) {
    (token.0 & 0xffff_ffff, (token.0 >> 32) as u32)
}

pub(super) fn make_token(index: usize, generation: u32) -> Token {
    Token(index | ((generation as usize) << 32))
}

/// The name of the readiness multiplexer this build uses.
pub(crate) fn name() -> &'static str {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        "epoll"
    } else if cfg!(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )) {
        "kqueue"
    } else {
        "poll"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_registrations_slot_is_reused_fresh_unless_something_still_holds_it() {
        let reactor = Reactor::new().unwrap();
        let (index, slot) = reactor.insert();
        slot.readiness.set(READABLE | ERROR);
        let old_generation = slot.generation;
        // What `Registration`'s drop does: out of the slab, then offered for reuse.
        drop(reactor.slots.borrow_mut().remove(index));
        reactor.spare(&slot);
        let first = Rc::as_ptr(&slot);
        drop(slot);
        let (_, again) = reactor.insert();
        assert_eq!(Rc::as_ptr(&again), first, "the spare slot is reused");
        assert_ne!(
            again.generation, old_generation,
            "a stale token's events are ignored"
        );
        assert_eq!(again.readiness.get(), 0);
        // A slot still held (the reactor waking its tasks) is not kept.
        let held = again.clone();
        reactor.spare(&again);
        assert!(reactor.spare.borrow().is_empty());
        drop(held);
    }
}
