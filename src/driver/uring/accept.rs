//! Listeners on the ring: one multishot accept per listener (`IORING_OP_ACCEPT` with
//! `IORING_ACCEPT_MULTISHOT`) instead of the listener's readiness through the nested epoll.
//!
//! Each completion carries a new descriptor (`SOCK_NONBLOCK | SOCK_CLOEXEC`), queued in the
//! listener's `AcceptState` until the accepting task takes it.
//!
//! The accept has one address buffer, which the kernel overwrites at every connection it
//! accepts, and it accepts only inside this thread's own `io_uring_enter`s (the ring is
//! `SINGLE_ISSUER | DEFER_TASKRUN`). So in a batch of completions taken whole (none overflowed
//! or dropped), the buffer holds the peer of the accept's last connection of the batch until
//! the ring is entered again, and that connection takes its address from there. The others of
//! a batch (and every connection after an overflow, or after an enter in the middle of a
//! batch) learn it from `getpeername` when they are taken. Connections that come one at a
//! time, the common case, cost no system call of their own beyond the accept.
//!
//! The multishot accept is armed at the first accept that finds the queue empty and stays
//! armed. It is cancelled (paused) when the queue holds `QUEUE_HIGH` connections nobody took (a
//! task that stops accepting leaves further clients in the kernel's backlog, as on epoll) and
//! when the listener reaches its connection limit with `AtLimit::Wait` (as the last place is
//! taken); the next accept that finds the queue empty arms it again. Any error ends a multishot
//! accept: the error is queued after the connections before it, and the accept after it arms
//! again (after the listener's backoff, for running out of descriptors).
//!
//! `user_data` of an accept is its slot in `Uring::accepts` plus one: the upper 32 bits are 0,
//! which no operation of the table has (their generation is never 0). The slot is freed only at
//! the operation's last completion, so no completion can reach a slot's next owner.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};

use super::dgram_ops::socket_addr;
use super::*;

/// The most connections accepted and not yet taken before the multishot accept is paused (each
/// holds a descriptor of the process: few enough to stay far below a descriptor limit, enough
/// to take a burst in one turn).
const QUEUE_HIGH: usize = 128;

/// The accept's address buffer: room for a `sockaddr_storage`, the most the kernel writes. Not
/// a `sockaddr_in6`, though that is the longest address used (a Unix-domain peer's is not): the
/// length is in and out, and the kernel takes the room for each connection from what it left
/// there at the one before, the full length of that peer's address.
const ADDR_LEN: usize = size_of::<libc::sockaddr_storage>();

/// The accept's address buffer (arrays this long have no `Default`).
#[repr(transparent)]
struct AddrBuf([u8; ADDR_LEN]);

impl Default for AddrBuf {
    fn default() -> AddrBuf {
        AddrBuf([0; ADDR_LEN])
    }
}

/// A connection the ring accepted, with its peer's address when the accept's buffer gave it.
pub(crate) type AcceptedFd = (OwnedFd, Option<SocketAddr>);

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
    queue: RefCell<VecDeque<io::Result<AcceptedFd>>>,
    waiter: Waiter,
    /// The multishot accept's address buffer and its length, written by the kernel at each
    /// connection it accepts, inside our `io_uring_enter`s only (see the module docs).
    addr: UnsafeCell<AddrBuf>,
    addr_len: UnsafeCell<libc::socklen_t>,
    /// The reap batch whose last connection so far took its address from `addr` (0: none).
    addressed_in: Cell<u64>,
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
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<AcceptedFd>> {
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
        queued.into_iter().filter_map(|a| Some(a.ok()?.0)).collect()
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
        // SAFETY: no accept of this state is in flight (`ud` was 0), so the kernel does not
        // write the length now; the buffer lives in the `Rc`'d state, which `accepts` holds
        // until the accept's last completion, so it outlives every write the kernel makes; and
        // it has room for the most the kernel writes (`ADDR_LEN`), whatever room the length
        // claims by then.
        unsafe { *state.addr_len.get() = ADDR_LEN as libc::socklen_t };
        let entry = multishot_accept(state.fd, state.addr.get().cast(), state.addr_len.get());
        self.push(entry.user_data(ud));
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
                Some(fd) => {
                    let peer = self.batch_address(&state, &mut queue);
                    queue.push_back(Ok((fd, peer)))
                }
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

/// `IORING_ACCEPT_MULTISHOT`, in the entry's `ioprio`.
const ACCEPT_MULTISHOT: u16 = 1 << 0;

/// A multishot accept of `fd` (`SOCK_NONBLOCK | SOCK_CLOEXEC`) that writes each peer's address
/// to `addr`. The io-uring crate's `AcceptMulti` passes no address buffer: this is its
/// single-shot `Accept` with the multishot flag set in `ioprio`, as liburing's
/// `io_uring_prep_multishot_accept` builds it.
fn multishot_accept(
    fd: RawFd,
    addr: *mut libc::sockaddr,
    addr_len: *mut libc::socklen_t,
) -> squeue::Entry {
    let entry = opcode::Accept::new(types::Fd(fd), addr, addr_len)
        .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
        .build();
    // `ioprio` is the `u16` at byte offset 2 of the kernel's `io_uring_sqe` (the test below
    // checks the entry against `AcceptMulti`).
    with_sqe_bytes(entry, 2, &ACCEPT_MULTISHOT.to_ne_bytes())
}

impl Uring {
    /// The peer of a connection the accept of `state` took in the batch being reaped, as the
    /// accept's buffer has it, when it can be trusted: no overflow, nothing entered since the
    /// batch was taken. The buffer holds the peer of the accept's last connection in the batch,
    /// so the connection before this one in the same batch, which took the same address, gives
    /// it up (it asks `getpeername`).
    fn batch_address(
        &self,
        state: &AcceptState,
        queue: &mut VecDeque<io::Result<AcceptedFd>>,
    ) -> Option<SocketAddr> {
        let batch = self.reap_batch.get();
        if state.addressed_in.get() == batch {
            // The queue's last entry is that connection: an accept's error ends it, and a new
            // accept is armed only after the reap.
            if let Some(Ok((_, peer))) = queue.back_mut() {
                *peer = None;
            }
        }
        let trusted = !self.reap_overflow.get() && !self.entered.get();
        state.addressed_in.set(if trusted { batch } else { 0 });
        trusted.then(|| state.written_peer()).flatten()
    }
}

impl Uring {
    /// A reap inside a completion's handler (code run by a waker closed a socket): the
    /// connection that took the accept buffer's address in the batch under way may not be the
    /// batch's last of its accept, whose completion the inner reap takes under a batch of its
    /// own. Every such connection gives the address up (it asks `getpeername`).
    pub(super) fn give_up_batch_addresses(&self) {
        let batch = self.reap_batch.get();
        for (_, state) in self.accepts.borrow().iter() {
            if state.addressed_in.replace(0) == batch
                && let Some(Ok((_, peer))) = state.queue.borrow_mut().back_mut()
            {
                *peer = None;
            }
        }
    }
}

impl AcceptState {
    /// The peer address the kernel wrote at its latest accept (`None` for one not of TCP), and
    /// the whole buffer for the next one.
    fn written_peer(&self) -> Option<SocketAddr> {
        // SAFETY: the kernel writes the buffer and its length only inside our own
        // `io_uring_enter`s, and none is running (this thread is here, reaping).
        unsafe {
            let len = std::mem::replace(&mut *self.addr_len.get(), ADDR_LEN as libc::socklen_t);
            (*self.addr.get())
                .0
                .get(..len as usize)
                .and_then(socket_addr)
        }
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

    #[test]
    fn the_address_entry_is_accept_multi_with_an_address_buffer() {
        let (mut addr, mut len) = ([0u8; ADDR_LEN], ADDR_LEN as libc::socklen_t);
        let ours = multishot_accept(7, addr.as_mut_ptr().cast(), &mut len);
        let theirs = opcode::AcceptMulti::new(types::Fd(7))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build();
        // SAFETY: as in `multishot_accept`: 64 bytes of integers either way.
        let [ours, theirs] =
            [ours, theirs].map(|e| unsafe { std::mem::transmute::<squeue::Entry, [u8; 64]>(e) });
        // `addr2` (bytes 8..16) and `addr` (16..24) carry the buffer; the rest is the same.
        assert_eq!(ours[..8], theirs[..8], "opcode, flags, ioprio, fd");
        assert_eq!(ours[24..], theirs[24..]);
        assert_eq!(ours[8..16], (&raw mut len as u64).to_ne_bytes());
        assert_eq!(ours[16..24], (addr.as_mut_ptr() as u64).to_ne_bytes());
    }

    #[test]
    fn the_kernel_writes_no_address_past_the_buffer() {
        // The length is in and out: before each connection the kernel reads the room from it,
        // and leaves there the full length of that peer's address. After a Unix-domain peer
        // with a long name, the next connection of the same multishot accept is given that
        // much room. The kernel writes at most a `sockaddr_storage`, so the buffer must have
        // room for one.
        let dir = std::env::temp_dir().join(format!("event-accept-addr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let name = |i: usize| dir.join(format!("{i}{}", "c".repeat(70)));
        let path = dir.join("listener");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        // Clients bound to long names, in the backlog before the accept is armed: it accepts
        // them one after the other inside one enter.
        let clients: Vec<_> = (0..4)
            .map(|i| {
                let _ = std::fs::remove_file(name(i));
                let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
                    .unwrap();
                s.bind(&socket2::SockAddr::unix(name(i)).unwrap()).unwrap();
                s.connect(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
                s
            })
            .collect();
        // The buffer, then bytes the kernel must not touch; declared before the ring, so that
        // it outlives it (and the accept, which the ring's end cancels).
        let mut buf = [0xa5u8; ADDR_LEN + 128];
        let mut len = ADDR_LEN as libc::socklen_t;
        let Some((_reactor, uring)) = ring() else {
            return;
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        // `user_data` 1 is slot 0 of `accepts`, which is empty: each connection is closed as
        // it completes.
        uring.push(multishot_accept(fd, buf.as_mut_ptr().cast(), &mut len).user_data(1));
        uring.submit_and_run();
        uring.reap();
        let past = buf[ADDR_LEN..].iter().filter(|&&b| b != 0xa5).count();
        assert_eq!(past, 0, "bytes written past the buffer's {ADDR_LEN}");
        drop(uring);
        drop(clients);
        for i in 0..4 {
            let _ = std::fs::remove_file(name(i));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A listener's state with its multishot accept armed (never submitted).
    fn armed_state(uring: &Uring) -> Rc<AcceptState> {
        let state = Rc::new(AcceptState {
            fd: -1,
            ..AcceptState::default()
        });
        uring.arm_accept(&state);
        state
    }

    /// The completion of a connection accepted in reap batch `batch`, after the kernel wrote a
    /// peer 127.0.0.1:4242 of `family` and length `len` into the accept's buffer.
    fn accept_from(uring: &Uring, state: &AcceptState, batch: u64, family: i32, len: usize) {
        // SAFETY: no accept is in flight (the ring was never entered).
        unsafe {
            let buf = &mut (*state.addr.get()).0;
            buf[..2].copy_from_slice(&(family as u16).to_ne_bytes());
            buf[2..4].copy_from_slice(&4242u16.to_be_bytes());
            buf[4..8].copy_from_slice(&[127, 0, 0, 1]);
            *state.addr_len.get() = len as libc::socklen_t;
        }
        uring.reap_batch.set(batch);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        uring.complete_accept(state.ud.get(), OwnedFd::from(a).into_raw_fd(), 1 << 1);
    }

    #[test]
    fn a_reap_inside_a_handler_takes_the_batchs_address_back() {
        let Some((_reactor, uring)) = ring() else {
            return;
        };
        let state = armed_state(&uring);
        accept_from(
            &uring,
            &state,
            7,
            libc::AF_INET,
            size_of::<libc::sockaddr_in>(),
        );
        let peer = |state: &AcceptState| state.queue.borrow().back().unwrap().as_ref().unwrap().1;
        assert!(
            peer(&state).is_some(),
            "alone in its batch so far: it takes the address"
        );
        // The handler's code reaps again (the outer reap is under way).
        uring.reaping.set(true);
        uring.reap();
        assert!(uring.reaping.get(), "the outer reap is still under way");
        assert_eq!(
            peer(&state),
            None,
            "its batch's last may come in the inner reap"
        );
        assert_eq!(state.addressed_in.get(), 0);
    }

    #[test]
    fn only_the_last_connection_of_a_batch_keeps_the_buffers_address() {
        let Some((_reactor, uring)) = ring() else {
            return;
        };
        let state = armed_state(&uring);
        let accept = |batch, family, len| accept_from(&uring, &state, batch, family, len);
        let sin = size_of::<libc::sockaddr_in>();
        let inet = libc::AF_INET;
        uring.entered.set(true);
        accept(1, inet, sin); // the ring was entered since the batch was taken: not trusted
        uring.entered.set(false);
        accept(2, inet, sin); // batch 2: gives it up to the next ...
        accept(2, inet, sin); // ... which keeps it
        accept(3, inet, sin); // batch 3, alone: keeps it
        uring.reap_overflow.set(true);
        accept(4, inet, sin); // an overflow: not trusted
        uring.reap_overflow.set(false);
        accept(5, libc::AF_UNIX, 110); // a Unix-domain peer's longer address: none
        accept(6, inet, ADDR_LEN + 1); // longer than the buffer (never from the kernel): none
        let peers: Vec<_> = state
            .queue
            .take()
            .into_iter()
            .map(|a| a.unwrap().1)
            .collect();
        let peer = Some("127.0.0.1:4242".parse::<SocketAddr>().unwrap());
        assert_eq!(peers, [None, None, peer, peer, None, None, None]);
        // SAFETY: as above.
        let len = unsafe { *state.addr_len.get() };
        assert_eq!(len, ADDR_LEN as libc::socklen_t, "the whole buffer again");
    }
}
