//! The state of one connection, shared by its socket and its operations in flight.

use super::*;

/// The state of one connection, shared by its socket and by its operations in flight.
pub(crate) struct ConnState {
    // Fields are the driver's: completions (complete.rs), the socket side (stream.rs) and
    // lingering sends (linger.rs) all work on them.
    /// The socket's descriptor; after the socket is dropped with write-behind bytes still in
    /// flight, a duplicate the driver owns until that send ends (see `Conn::close`).
    pub(super) fd: Cell<RawFd>,
    /// The socket's slot in the ring's table of registered files while it is open (`NO_SLOT`:
    /// none), which its receives and sends name instead of `fd` (fixed_files.rs).
    pub(super) file: Cell<u32>,
    /// errno of a receive that failed (0: none), delivered after the bytes before it.
    pub(super) error: Cell<i32>,
    /// Bytes received and not yet read by the task (`inbox[pos..]`).
    pub(super) inbox: RefCell<Vec<u8>>,
    pub(super) pos: Cell<usize>,
    /// The armed multishot receive and the send in flight (`user_data`, 0: none).
    pub(super) recv: Cell<u64>,
    pub(super) send: Cell<u64>,
    /// The connection's entry in the operation table for its sends (`user_data`, 0: none):
    /// made at the first send and kept between sends (no table insert and removal per
    /// message), removed once the socket is closed and no send is in flight.
    pub(super) send_slot: Cell<u64>,
    /// The bytes of the send in flight (`send_buf[send_off..]` still to go). One send at a
    /// time per connection, so the buffer lives here, reused from message to message; the
    /// kernel reads it only while `send` is set, and the operation keeps this state alive.
    pub(super) send_buf: RefCell<Vec<u8>>,
    pub(super) send_off: Cell<usize>,
    /// errno of the last send if it failed and nobody has heard of it yet (0: none).
    pub(super) send_error: Cell<i32>,
    /// Bumped whenever a send makes partial progress (restarts a write's stall timeout).
    pub(super) send_progress: Cell<u32>,
    /// Which of the `Flags` below hold.
    pub(super) flags: Cell<Flags>,
    pub(super) reader: Waiter,
    pub(super) writer: Waiter,
}

/// The peer closed its side (after the bytes in the inbox).
pub(super) const EOF: Flags = Flags(1);
/// The socket was dropped: completions are reaped, nothing more is started.
pub(super) const CLOSED: Flags = Flags(2);
/// The receive's cancellation was requested.
pub(super) const RECV_CANCELLED: Flags = Flags(4);
/// The send in flight carries write-behind bytes (the traits' `poll_write` already reported
/// them written): closing the socket lets it finish instead of cancelling it.
pub(super) const BEHIND: Flags = Flags(16);
/// The send in flight was cancelled: a short completion is final, not continued.
pub(super) const SEND_CANCELLED: Flags = Flags(32);
/// `shutdown_write` came while a write-behind send was in flight: shut down when it ends.
pub(super) const SHUTDOWN_PENDING: Flags = Flags(64);
/// The socket is gone and `fd` is the driver's duplicate, closed when the send in flight ends.
pub(super) const LINGER: Flags = Flags(128);
/// The inbox went over `INBOX_HIGH`: the multishot receive was cancelled, and single receives
/// sized to the room left keep the data flowing as the task reads (like a TCP window that opens
/// as the application reads), until a read finds the inbox empty and streaming resumes.
pub(super) const PAUSED: Flags = Flags(256);
/// A receive completion brought bytes after the socket was dropped: they were discarded unread
/// (so the close must reset the connection, see `Conn::close`).
pub(super) const DISCARDED: Flags = Flags(512);
/// The listener's `TCP_NODELAY` was queued as a ring command and may not have run yet.
pub(super) const SOCKOPT_QUEUED: Flags = Flags(1024);
/// The connection asked for a slot in the table of registered files (at its second send;
/// fixed_files.rs), and got one if `file` is set.
pub(super) const FILE_ASKED: Flags = Flags(2048);

/// A set of the connection's flags (the constants above).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub(crate) struct Flags(u16);

impl Flags {
    fn contains(self, flag: Flags) -> bool {
        self.0 & flag.0 != 0
    }

    fn with(self, flag: Flags, on: bool) -> Flags {
        Flags(if on {
            self.0 | flag.0
        } else {
            self.0 & !flag.0
        })
    }
}

impl ConnState {
    /// A connection's state with nothing received, nothing sent and no flag set.
    pub(super) fn new(fd: RawFd) -> ConnState {
        ConnState {
            fd: Cell::new(fd),
            file: Cell::new(NO_SLOT),
            error: Cell::new(0),
            inbox: RefCell::new(Vec::new()),
            pos: Cell::new(0),
            recv: Cell::new(0),
            send: Cell::new(0),
            send_slot: Cell::new(0),
            send_buf: RefCell::new(Vec::new()),
            send_off: Cell::new(0),
            send_error: Cell::new(0),
            send_progress: Cell::new(0),
            flags: Cell::new(Flags::default()),
            reader: Waiter::default(),
            writer: Waiter::default(),
        }
    }

    /// How the connection's receives and sends name its socket: by its slot in the table of
    /// registered files while it has one, else by its descriptor.
    #[inline]
    pub(super) fn target(&self) -> (RawFd, squeue::Flags) {
        match self.file.get() {
            NO_SLOT => (self.fd.get(), squeue::Flags::empty()),
            slot => (slot as RawFd, squeue::Flags::FIXED_FILE),
        }
    }

    /// Bytes in the inbox not yet read.
    #[inline]
    pub(super) fn unread(&self) -> usize {
        self.inbox.borrow().len() - self.pos.get()
    }

    #[inline]
    pub(super) fn recv_op(&self) -> Option<u64> {
        Some(self.recv.get()).filter(|&ud| ud != 0)
    }

    #[inline]
    pub(super) fn set_recv_op(&self, ud: Option<u64>) {
        self.recv.set(ud.unwrap_or(0));
    }

    #[inline]
    pub(super) fn send_op(&self) -> Option<u64> {
        Some(self.send.get()).filter(|&ud| ud != 0)
    }

    #[inline]
    pub(super) fn set_send_op(&self, ud: Option<u64>) {
        self.send.set(ud.unwrap_or(0));
    }

    #[inline]
    pub(super) fn has(&self, flag: Flags) -> bool {
        self.flags.get().contains(flag)
    }

    /// Sets or clears `flag`; returns whether it was set before.
    #[inline]
    pub(super) fn set(&self, flag: Flags, on: bool) -> bool {
        let old = self.flags.get();
        self.flags.set(old.with(flag, on));
        old.contains(flag)
    }
}

/// The most states of closed connections a ring keeps for reuse (a few hundred bytes each,
/// without buffers).
const SPARE_STATES: usize = 32;
/// The most buffers of closed connections a ring keeps for the next inboxes, and the largest
/// kept (a message's size for most servers: at most 32 KiB per loop is kept).
const SPARE_BUFS: usize = 8;
const SPARE_BUF_MAX: usize = 4096;

impl Uring {
    /// A fresh state for a connection on `fd`: a closed connection's, if one is spare (no
    /// allocation), else a new one.
    pub(super) fn conn_state(&self, fd: RawFd) -> Rc<ConnState> {
        let spare = self.spare_states.borrow_mut().pop();
        if let Some(mut state) = spare
            && let Some(s) = Rc::get_mut(&mut state)
        {
            // A whole new value, so no field of the closed connection can outlive it (the
            // old one's buffers were given up at close: nothing to free).
            *s = ConnState::new(fd);
            return state;
        }
        Rc::new(ConnState::new(fd))
    }

    /// The socket of `state` is closing and nothing else holds the state (no operation in
    /// flight, no lingering send): its buffers go now, as they would with the state, and the
    /// state is kept for the next connection (`conn_state`) once the socket lets go of it.
    pub(super) fn spare_state(&self, state: &Rc<ConnState>) {
        if Rc::strong_count(state) != 1 || Rc::weak_count(state) != 0 {
            return;
        }
        let mut spare = self.spare_states.borrow_mut();
        if spare.len() < SPARE_STATES {
            self.spare_buf(std::mem::take(&mut *state.inbox.borrow_mut()));
            self.spare_buf(std::mem::take(&mut *state.send_buf.borrow_mut()));
            spare.push(state.clone());
        }
    }

    /// Keeps a closed connection's buffer, emptied, for the next inbox that receives, if it is
    /// small and there is room; else it is freed.
    fn spare_buf(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > SPARE_BUF_MAX {
            return;
        }
        let mut spare = self.spare_bufs.borrow_mut();
        if spare.len() < SPARE_BUFS {
            buf.clear();
            spare.push(buf);
        }
    }

    /// The first bytes of an empty inbox (no capacity): in a spare buffer they fit in, else in
    /// one exact allocation.
    pub(super) fn first_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let spare = self.spare_bufs.borrow_mut().pop();
        match spare {
            Some(mut buf) if buf.capacity() >= bytes.len() => {
                buf.extend_from_slice(bytes);
                buf
            }
            Some(buf) => {
                self.spare_bufs.borrow_mut().push(buf);
                bytes.to_vec()
            }
            None => bytes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_set_and_cleared_one_at_a_time_and_report_their_old_value() {
        let s = ConnState::new(-1);
        assert!(!s.set(LINGER, true), "not set before");
        assert!(s.has(LINGER) && !s.has(BEHIND) && !s.has(EOF));
        assert!(!s.set(BEHIND, true));
        assert!(s.set(LINGER, false), "was set");
        assert!(!s.has(LINGER) && s.has(BEHIND));
        assert!(!s.set(LINGER, false), "clearing twice says it was clear");
    }

    #[test]
    fn a_closed_connections_state_is_reused_fresh_unless_something_still_holds_it() {
        let reactor = crate::driver::epoll::Reactor::new().unwrap();
        let Ok(uring) = Uring::new(reactor.raw_fd(), Duration::from_secs(1)) else {
            return;
        };
        let state = uring.conn_state(-1);
        state.inbox.borrow_mut().extend_from_slice(b"unread");
        state.send_buf.borrow_mut().extend_from_slice(b"sent");
        state.set(EOF, true);
        state.error.set(libc::ECONNRESET);
        uring.spare_state(&state);
        let first = Rc::as_ptr(&state);
        drop(state);
        let again = uring.conn_state(7);
        assert_eq!(Rc::as_ptr(&again), first, "the spare state is reused");
        assert_eq!(
            (again.fd.get(), again.error.get(), again.unread()),
            (7, 0, 0)
        );
        assert_eq!(again.flags.get(), Flags::default());
        assert_eq!(again.send_buf.borrow().capacity(), 0, "no buffer kept");
        // Its small buffers wait for the next inbox that receives, empty.
        let reused = uring.first_bytes(b"hi");
        assert_eq!(
            (reused.as_slice(), reused.capacity() >= 6),
            (&b"hi"[..], true)
        );
        assert_eq!(
            uring.first_bytes(&[7; 100]).len(),
            100,
            "too small a spare: allocated"
        );
        // An operation in flight holds the state: it is not spared.
        let held = again.clone();
        uring.spare_state(&again);
        assert!(uring.spare_states.borrow().is_empty());
        drop(held);
    }

    #[test]
    fn an_empty_connection_has_nothing_unread_and_no_operation() {
        let s = ConnState::new(-1);
        assert_eq!(s.unread(), 0);
        assert_eq!((s.recv_op(), s.send_op()), (None, None));
        s.set_recv_op(Some(7));
        s.inbox.borrow_mut().extend_from_slice(b"hello");
        s.pos.set(2);
        assert_eq!((s.recv_op(), s.unread()), (Some(7), 3));
    }
}
