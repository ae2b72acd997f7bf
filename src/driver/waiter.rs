//! `Waiter`: the task waiting on one direction of a source, on either driver.

use std::cell::Cell;
use std::task::Waker;

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
