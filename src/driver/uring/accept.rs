//! Listeners on the ring: one multishot accept per listener (`IORING_OP_ACCEPT` with
//! `IORING_ACCEPT_MULTISHOT`) instead of the listener's readiness through the nested epoll.
//!
//! Each completion carries a new descriptor (`SOCK_NONBLOCK | SOCK_CLOEXEC`), queued in the
//! listener's `AcceptState` until the accepting task takes it; the accept's address buffer is
//! not used (one buffer would be overwritten by every completion of a batch), so the peer's
//! address comes from `getpeername` when the connection is taken. The multishot accept is
//! armed at the first accept that finds the queue empty and stays armed; it is cancelled
//! (paused) when the queue holds `QUEUE_HIGH` connections nobody took (a task that stops
//! accepting leaves further clients in the kernel's backlog, as on epoll) and when the listener
//! reaches its connection limit with `AtLimit::Wait` (as the last place is taken), and is armed again by the next accept that
//! finds the queue empty. Any error ends a multishot accept: the error is queued after the
//! connections before it, and the accept after it arms again (after the listener's backoff,
//! for running out of descriptors).
//!
//! `user_data` of an accept is its slot in `Uring::accepts` plus one: the upper 32 bits are 0,
//! which no operation of the table has (their generation is never 0). The slot is freed only at
//! the operation's last completion, so no completion can reach a slot's next owner.

use std::collections::VecDeque;
use std::os::fd::{FromRawFd, OwnedFd};

use super::*;

/// The most connections accepted and not yet taken before the multishot accept is paused (each
/// holds a descriptor of the process: few enough to stay far below a descriptor limit, enough
/// to take a burst in one turn).
const QUEUE_HIGH: usize = 128;

/// One listener's accepted connections and its multishot accept.
#[derive(Default)]
pub(crate) struct AcceptState {
    /// The listener's descriptor (the listener owns it and closes it after `Acceptor::stop`).
    fd: RawFd,
    /// The armed multishot accept (`user_data`, 0: none).
    ud: Cell<u64>,
    /// Its cancellation was requested (it ends with its next completion without `MORE`).
    cancelling: Cell<bool>,
    /// The listener stopped: later connections are closed as they arrive.
    stopped: Cell<bool>,
    /// Accepted connections and errors, in the order the kernel reported them.
    queue: RefCell<VecDeque<io::Result<OwnedFd>>>,
    waiter: Waiter,
}

/// A listener served by the ring (see the module docs). Dropping it stops the multishot
/// accept before the listener's descriptor closes.
pub(crate) struct Acceptor {
    core: Rc<Core>,
    uring: Rc<Uring>,
    state: Rc<AcceptState>,
}

impl Acceptor {
    pub(crate) fn new(core: Rc<Core>, uring: Rc<Uring>, fd: RawFd) -> Acceptor {
        let state = Rc::new(AcceptState {
            fd,
            ..AcceptState::default()
        });
        Acceptor { core, uring, state }
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// The next accepted connection (or the error that ended the multishot accept), or waits,
    /// arming the multishot accept if it is not armed.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        let s = &*self.state;
        if let Some(next) = s.queue.borrow_mut().pop_front() {
            return Poll::Ready(next);
        }
        if s.ud.get() == 0 && !s.stopped.get() {
            self.uring.arm_accept(&self.state);
        }
        s.waiter.wait(cx.waker());
        Poll::Pending
    }

    /// Stops accepting for now (the listener waits at its connection limit): connections
    /// already accepted stay queued, new ones stay in the kernel's backlog until the next
    /// `poll_accept` that finds the queue empty.
    pub(crate) fn pause(&self) {
        self.uring.pause_accept(&self.state);
    }

    pub(crate) fn cancel_wait(&self) {
        self.state.waiter.cancel();
    }

    /// Wakes the accepting task (the listener closed).
    pub(crate) fn wake(&self) {
        self.state.waiter.wake();
    }

    /// Ends the multishot accept before the listener's descriptor is closed (the request holds
    /// the listening socket open, and would go on accepting, until it ends) and gives back the
    /// connections accepted and not taken.
    pub(crate) fn stop(&self) -> VecDeque<OwnedFd> {
        let s = &*self.state;
        s.stopped.set(true);
        self.uring.pause_accept(&self.state);
        // The cancellation completes inside the ring's deferred work, which the enter below
        // runs; a second try covers a completion posted while the first one was reaped.
        for _ in 0..3 {
            if s.ud.get() == 0 {
                break;
            }
            self.uring.submit_and_run();
            self.uring.reap();
        }
        let queued = std::mem::take(&mut *s.queue.borrow_mut());
        // The accepting task looks again (and finds the listener closed, or moved), and the
        // state, which may outlive the listener until its last completion, keeps no waker.
        s.waiter.wake();
        drop(s.waiter.take());
        queued.into_iter().filter_map(Result::ok).collect()
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        if !self.state.stopped.get() {
            drop(self.stop());
        }
    }
}

impl Uring {
    /// Arms the multishot accept of `state`'s listener.
    fn arm_accept(&self, state: &Rc<AcceptState>) {
        let index = self.accepts.borrow_mut().insert(state.clone());
        let ud = index as u64 + 1;
        state.ud.set(ud);
        state.cancelling.set(false);
        let entry = opcode::AcceptMulti::new(types::Fd(state.fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(ud);
        self.push(entry);
    }

    /// Cancels the multishot accept of `state` if it is armed (its last completion frees it).
    fn pause_accept(&self, state: &AcceptState) {
        let ud = state.ud.get();
        if ud != 0 && !state.cancelling.replace(true) {
            self.cancel(ud);
        }
    }

    /// A completion of a multishot accept: a connection for the queue (closed at once if the
    /// listener stopped), or the error that ended it.
    pub(super) fn complete_accept(&self, ud: u64, res: i32, flags: u32) {
        let index = (ud - 1) as usize;
        let state = self.accepts.borrow().get(index).cloned();
        let more = cqueue::more(flags);
        let fd = (res >= 0).then(|| {
            // SAFETY: a successful accept's result is a new descriptor the kernel made for us;
            // nothing else owns it.
            unsafe { OwnedFd::from_raw_fd(res) }
        });
        let Some(state) = state else {
            // Not ours (cannot happen: slots are freed at the last completion); close it.
            drop(fd);
            return;
        };
        if !more {
            self.accepts.borrow_mut().remove(index);
            state.ud.set(0);
            state.cancelling.set(false);
        }
        if state.stopped.get() {
            // The listener is closing: the connection is closed with it, as its backlog is.
            drop(fd);
            return;
        }
        let queued = {
            let mut queue = state.queue.borrow_mut();
            match fd {
                Some(fd) => queue.push_back(Ok(fd)),
                None if res == -libc::ECANCELED => {}
                None => queue.push_back(Err(io::Error::from_raw_os_error(errno_of(res)))),
            }
            queue.len()
        };
        if more && queued >= QUEUE_HIGH {
            // Nobody takes them: leave the next clients in the kernel's backlog.
            self.pause_accept(&state);
        }
        state.waiter.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    fn ring() -> Option<(Reactor, Rc<Uring>)> {
        let reactor = Reactor::new().unwrap();
        let uring = Uring::new(reactor.raw_fd(), Duration::from_secs(1)).ok()?;
        Some((reactor, Rc::new(uring)))
    }

    #[test]
    fn a_full_queue_pauses_the_multishot_accept_and_errors_end_it() {
        let Some((_reactor, uring)) = ring() else {
            return;
        };
        let state = Rc::new(AcceptState {
            fd: -1,
            ..AcceptState::default()
        });
        uring.arm_accept(&state);
        let ud = state.ud.get();
        assert_eq!(ud >> 32, 0, "accepts are told apart by a zero upper half");
        // IORING_CQE_F_MORE: the multishot accept goes on.
        const MORE: u32 = 1 << 1;
        for _ in 0..QUEUE_HIGH {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            uring.complete_accept(ud, OwnedFd::from(a).into_raw_fd(), MORE);
        }
        assert_eq!(state.queue.borrow().len(), QUEUE_HIGH);
        assert!(state.cancelling.get(), "paused at the queue's bound");
        // The cancellation's completion ends it; its slot is freed.
        uring.complete_accept(ud, -libc::ECANCELED, 0);
        assert_eq!((state.ud.get(), uring.accepts.borrow().len()), (0, 0));
        assert_eq!(
            state.queue.borrow().len(),
            QUEUE_HIGH,
            "ECANCELED is not queued"
        );
        // An error ends a multishot accept and is queued after the connections before it.
        uring.arm_accept(&state);
        uring.complete_accept(state.ud.get(), -libc::EMFILE, 0);
        let last = state.queue.borrow_mut().pop_back().unwrap();
        assert_eq!(last.unwrap_err().raw_os_error(), Some(libc::EMFILE));
        assert_eq!(state.ud.get(), 0);
    }
}
