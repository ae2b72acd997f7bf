//! `Turn`: one direction of a socket (reading or writing) taken by one operation at a time, in
//! the order the operations asked for it.
//!
//! Reads and writes take `&self`, so several tasks may share a socket (an `Rc<Socket>` in a chat
//! server's fan-out). Without turns their writes could interleave (a large write goes out in
//! several system calls) and their wakers replace each other in the driver (so one would never
//! wake). With a turn, the operation holding it is the only one the driver sees; the others
//! wait in a FIFO queue, and the holder hands the turn straight to the next when it completes
//! or is dropped. Uncontended, taking and giving back a turn is a few flag checks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

/// The turn of one direction of a socket.
#[derive(Default)]
pub(crate) struct Turn {
    /// An operation holds the turn (or it was handed to `granted`, which has not polled yet).
    held: Cell<bool>,
    /// How many waiters the queue holds (checked on every hand-on without borrowing it).
    queued: Cell<u32>,
    /// The waiters, made at the socket's first contention: an uncontended socket (nearly every
    /// one) carries a pointer here, not the queue, which keeps `Socket`, and every future and
    /// task that holds one, smaller.
    waiting: RefCell<Option<Box<Waiting>>>,
}

/// A contended turn's waiters.
#[derive(Default)]
struct Waiting {
    /// Operations waiting for the turn, oldest first.
    queue: VecDeque<Queued>,
    /// The waiter the turn was handed to (0: none).
    granted: u64,
    /// The id of the last waiter queued (ids start at 1).
    last_id: u64,
}

struct Queued {
    id: u64,
    waker: Waker,
    /// False for a trait call, which only waits for the turn to be free.
    takes_turn: bool,
}

/// An operation's place with respect to a [`Turn`]: [`Ticket::NONE`] (not asked yet, or given
/// back), [`Ticket::HELD`], or the id of its place in the queue.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Ticket {
    pub(crate) const NONE: Ticket = Ticket(0);
    pub(crate) const HELD: Ticket = Ticket(u64::MAX);
}

impl Turn {
    /// Whether the operation whose place is `ticket` may go ahead: it holds the turn, or nobody
    /// does (it then runs without taking it: an operation that completes in one poll costs the
    /// turn nothing, and takes it with [`hold`](Turn::hold) only when it has to wait).
    /// Otherwise it is queued.
    #[inline]
    pub(crate) fn poll_enter(&self, ticket: &mut Ticket, cx: &mut Context<'_>) -> Poll<()> {
        if *ticket == Ticket::HELD || (*ticket == Ticket::NONE && !self.held.get()) {
            return Poll::Ready(());
        }
        self.poll_queued(ticket, cx)
    }

    /// The operation that entered has to wait: it holds the turn until it completes or is
    /// dropped (nothing to do if it holds it already).
    #[inline]
    pub(crate) fn hold(&self, ticket: &mut Ticket) {
        if *ticket == Ticket::NONE {
            self.held.set(true);
            *ticket = Ticket::HELD;
        }
    }

    /// Takes the turn for the operation whose place is `ticket`, or queues it.
    #[cfg(test)]
    fn poll_take(&self, ticket: &mut Ticket, cx: &mut Context<'_>) -> Poll<()> {
        let entered = self.poll_enter(ticket, cx);
        if entered.is_ready() {
            self.hold(ticket);
        }
        entered
    }

    #[cold]
    fn poll_queued(&self, ticket: &mut Ticket, cx: &mut Context<'_>) -> Poll<()> {
        let id = ticket.0;
        if id == Ticket::NONE.0 {
            *ticket = Ticket(self.enqueue(cx.waker(), true));
            return Poll::Pending;
        }
        // A waker replaced here is dropped after the borrow ends: its drop may run any code,
        // this turn's included (a waker can own a future that holds a ticket here).
        let _replaced = {
            let mut waiting = self.waiting.borrow_mut();
            let waiting = waiting.get_or_insert_with(Box::default);
            if waiting.granted == id {
                waiting.granted = 0;
                *ticket = Ticket::HELD;
                return Poll::Ready(());
            }
            match waiting.queue.iter_mut().find(|q| q.id == id) {
                Some(q) if !q.waker.will_wake(cx.waker()) => {
                    Some(std::mem::replace(&mut q.waker, cx.waker().clone()))
                }
                _ => None,
            }
        };
        Poll::Pending
    }

    fn enqueue(&self, waker: &Waker, takes_turn: bool) -> u64 {
        let mut waiting = self.waiting.borrow_mut();
        let waiting = waiting.get_or_insert_with(Box::default);
        // Never 0 (none) nor u64::MAX (held): 2^64 - 2 waiters are not going to happen.
        let id = waiting.last_id + 1;
        waiting.last_id = id;
        waiting.queue.push_back(Queued {
            id,
            waker: waker.clone(),
            takes_turn,
        });
        self.queued.set(waiting.queue.len() as u32);
        id
    }

    /// Gives the turn back (the operation completed or was dropped), or leaves the queue.
    #[inline]
    pub(crate) fn release(&self, ticket: &mut Ticket) {
        if *ticket == Ticket::HELD {
            *ticket = Ticket::NONE;
            self.hand_on();
        } else if *ticket != Ticket::NONE {
            let id = std::mem::take(ticket).0;
            self.leave(id);
        }
    }

    #[cold]
    fn leave(&self, id: u64) {
        // The waiter leaving is dropped (its waker with it) only after the borrow ends: a
        // waker's drop may run any code, this turn's `release` included.
        let (granted, _left) = {
            let mut waiting = self.waiting.borrow_mut();
            let waiting = waiting.get_or_insert_with(Box::default);
            if waiting.granted == id {
                waiting.granted = 0;
                (true, None)
            } else {
                let left = waiting
                    .queue
                    .iter()
                    .position(|q| q.id == id)
                    .and_then(|i| waiting.queue.remove(i));
                self.queued.set(waiting.queue.len() as u32);
                (false, left)
            }
        };
        if granted {
            // Handed the turn but dropped before it polled: pass it on.
            self.hand_on();
        }
    }

    /// The holder is done: the turn goes to the oldest waiting operation, or becomes free.
    #[inline]
    fn hand_on(&self) {
        if self.queued.get() == 0 {
            self.held.set(false);
        } else {
            self.hand_on_queued();
        }
    }

    /// Trait calls waiting ahead of the next operation are woken to try again.
    #[cold]
    fn hand_on_queued(&self) {
        let mut wake = Vec::new();
        let mut guard = self.waiting.borrow_mut();
        let waiting = guard.get_or_insert_with(Box::default);
        let next = loop {
            match waiting.queue.pop_front() {
                Some(q) if q.takes_turn => break Some(q),
                Some(q) => wake.push(q.waker),
                None => break None,
            }
        };
        self.queued.set(waiting.queue.len() as u32);
        match next {
            Some(q) => {
                waiting.granted = q.id;
                wake.push(q.waker);
            }
            None => self.held.set(false),
        }
        // Wake after the borrow ends: waking only queues tasks, but keep the queue free anyway.
        drop(guard);
        for w in wake {
            w.wake();
        }
    }

    /// For the `AsyncRead`/`AsyncWrite` calls, which have no future to hold a turn across
    /// polls: ready if no operation holds the turn (the call then runs without taking it);
    /// otherwise the caller is woken once the turn is handed on.
    #[inline]
    pub(crate) fn poll_free(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.held.get() {
            return Poll::Ready(());
        }
        self.wait_free(cx);
        Poll::Pending
    }

    #[cold]
    fn wait_free(&self, cx: &mut Context<'_>) {
        let queued = self.waiting.borrow().as_ref().is_some_and(|w| {
            w.queue
                .iter()
                .any(|q| !q.takes_turn && q.waker.will_wake(cx.waker()))
        });
        if !queued {
            self.enqueue(cx.waker(), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::{Count, counting_waker};
    use std::sync::Arc;

    fn waker() -> (Arc<Count>, Waker) {
        counting_waker()
    }

    #[test]
    fn turns_go_in_order_and_a_dropped_waiter_passes_its_turn_on() {
        let turn = Turn::default();
        let (_, w1) = waker();
        let (c2, w2) = waker();
        let (c3, w3) = waker();
        let (mut t1, mut t2, mut t3) = (Ticket::NONE, Ticket::NONE, Ticket::NONE);
        assert!(
            turn.poll_take(&mut t1, &mut Context::from_waker(&w1))
                .is_ready()
        );
        assert!(
            turn.poll_take(&mut t2, &mut Context::from_waker(&w2))
                .is_pending()
        );
        assert!(
            turn.poll_take(&mut t3, &mut Context::from_waker(&w3))
                .is_pending()
        );
        turn.release(&mut t1);
        assert_eq!(c2.get(), 1, "the next in line is woken");
        assert_eq!(c3.get(), 0);
        // The second is dropped before it polls: the third gets the turn.
        turn.release(&mut t2);
        assert_eq!(c3.get(), 1);
        assert!(
            turn.poll_take(&mut t3, &mut Context::from_waker(&w3))
                .is_ready()
        );
        turn.release(&mut t3);
        let mut t4 = Ticket::NONE;
        assert!(
            turn.poll_take(&mut t4, &mut Context::from_waker(&w1))
                .is_ready()
        );
    }

    #[test]
    fn a_trait_call_waits_until_the_turn_is_free() {
        let turn = Turn::default();
        let (_, w1) = waker();
        let (c2, w2) = waker();
        let mut t1 = Ticket::NONE;
        assert!(turn.poll_free(&mut Context::from_waker(&w2)).is_ready());
        assert!(
            turn.poll_take(&mut t1, &mut Context::from_waker(&w1))
                .is_ready()
        );
        assert!(turn.poll_free(&mut Context::from_waker(&w2)).is_pending());
        assert!(turn.poll_free(&mut Context::from_waker(&w2)).is_pending());
        turn.release(&mut t1);
        assert_eq!(c2.get(), 1, "woken once, queued once");
        assert!(turn.poll_free(&mut Context::from_waker(&w2)).is_ready());
    }
}
