//! `Waiter`: the task waiting on one direction of a source, on either driver.

use std::cell::Cell;
use std::task::Waker;

/// The waiter of one direction. The waker is kept after a wake-up so that the next wait by the
/// same task costs no clone; `state` says whether a task actually wants the next event.
///
/// Normally one task waits per direction (a socket's turns see to it), but nothing may hang if
/// two do (two tasks on one listener, or trait calls from two tasks through `&Socket`): the
/// wakers of other tasks are kept aside in `others` and woken with the next event.
///
/// A cancel does not say whose wait it withdraws, so once a second task has waited here
/// (`shared`), a cancel wakes every task still registered to look again: the canceller may be
/// a task woken earlier that never came back, or one kept aside, and not the stored waker's.
#[derive(Default)]
pub(crate) struct Waiter {
    waker: Cell<Option<Waker>>,
    state: Cell<u8>,
    others: Cell<Vec<Waker>>,
    /// More than one task has waited here (set once, never cleared).
    shared: Cell<bool>,
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
            Some(_) => self.replace_other(waker),
            None => waker.clone(),
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
        self.shared.set(true);
    }

    /// Another task's waker, already woken, is replaced: that task may still think it waits
    /// and cancel later, which must not silently withdraw this wait.
    #[cold]
    fn replace_other(&self, waker: &Waker) -> Waker {
        self.shared.set(true);
        waker.clone()
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

    /// Forgets the wait (the future was dropped or gave up); the waker is kept for reuse. If
    /// other tasks have waited here, every task still registered is woken to look again (and
    /// to wait again if it must): the cancel may be another task's, and the event they wait
    /// for may be the one the cancelled wait would have passed on.
    #[inline]
    pub(crate) fn cancel(&self) {
        match self.state.replace(IDLE) {
            IDLE => {}
            WAITING if !self.shared.get() => {}
            _ => self.wake_all_registered(),
        }
    }

    #[cold]
    fn wake_all_registered(&self) {
        self.wake_kept();
        self.wake_others();
    }

    /// Takes the stored wakers (teardown), without allocating: every socket's close drops
    /// its wakers this way, and a vector here was one allocation per connection.
    pub(crate) fn take(&self) -> impl Iterator<Item = Waker> + use<> {
        self.state.set(IDLE);
        let others = self.others.take();
        self.waker.take().into_iter().chain(others)
    }

    /// Drops the stored wakers (a socket's close), both taken before either is dropped.
    #[inline]
    pub(crate) fn clear(&self) {
        self.state.set(IDLE);
        // Only a waiter another task shared ever kept wakers aside (`keep_aside`).
        let others = if self.shared.get() {
            self.others.take()
        } else {
            Vec::new()
        };
        let wakers = (self.waker.take(), others);
        drop(wakers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::counting_waker;

    #[test]
    fn a_cancel_by_the_task_kept_aside_still_wakes_the_stored_waiter() {
        let waiter = Waiter::default();
        let (_, a) = counting_waker();
        let (b_count, b) = counting_waker();
        waiter.wait(&a);
        waiter.wait(&b);
        // A goes away: B, the stored waker, must look again.
        waiter.cancel();
        assert_eq!(b_count.get(), 1);
    }

    #[test]
    fn a_cancel_by_a_task_woken_earlier_still_wakes_the_one_waiting_now() {
        let waiter = Waiter::default();
        let (_, a) = counting_waker();
        let (b_count, b) = counting_waker();
        waiter.wait(&a);
        waiter.wake();
        // A was woken; B waits before A polls again; then A's operation is dropped.
        waiter.wait(&b);
        waiter.cancel();
        assert_eq!(b_count.get(), 1);
        // B waits again and the next event reaches it.
        waiter.wait(&b);
        waiter.wake();
        assert_eq!(b_count.get(), 2);
    }

    #[test]
    fn one_task_cancelling_its_own_wait_is_not_woken() {
        let waiter = Waiter::default();
        let (count, a) = counting_waker();
        waiter.wait(&a);
        waiter.cancel();
        waiter.wait(&a);
        waiter.cancel();
        assert_eq!(count.get(), 0);
        waiter.wait(&a);
        waiter.wake();
        assert_eq!(count.get(), 1);
    }
}
