//! The io_uring driver (Linux). Every `unsafe` block of the crate is in this module.
//!
//! Connections use completion I/O:
//! - one multishot `recv` per connection draws from a ring of provided buffers; each completion's
//!   bytes are copied into the connection's inbox at once and the buffer goes straight back to
//!   the ring, so the ring stays small whatever the number of connections;
//! - a write copies the caller's bytes into a buffer the driver owns and queues a `send`
//!   (`MSG_NOSIGNAL`); every queued operation is submitted by the same `io_uring_enter` that
//!   waits for completions, so one system call per loop turn serves every connection.
//!
//! The ring is set up `SINGLE_ISSUER | DEFER_TASKRUN`: the kernel does completion work only inside
//! our own `io_uring_enter`, in one batch. Everything else (listeners, connect, signals, the
//! cross-thread waker) keeps using the readiness reactor: its epoll descriptor is itself watched
//! by a multishot poll on the ring, so one wait covers both.
//!
//! Ownership: an operation in flight owns its buffer and a reference to its connection's state in
//! the driver's operation table until its last completion arrives, so dropping a future or a socket
//! never frees memory the kernel may still write. Dropping them cancels their operations instead.

use std::alloc::{self, Layout};
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use slab::Slab;

use super::epoll::Reactor;
use super::{Direction, ReadOutcome, Waiter};
use crate::event_loop::Core;

mod accept;
mod buf_ring;
mod complete;
mod conn;
mod connect;
mod datagram;
mod dgram_ops;
mod dgram_queue;
mod fixed_files;
mod linger;
mod stream;
mod turn;

pub(crate) use accept::Acceptor;
use buf_ring::{BufRing, INC_COUNT, INC_SIZE, PAGE_COUNT, PAGE_SIZE};
use complete::reset_on_close;
use conn::*;
pub(crate) use connect::Connecting;
pub(crate) use datagram::Datagram;
use dgram_ops::{DGRAM_TAG, DgramOps};
use fixed_files::{FixedFiles, NO_SLOT};
pub(crate) use linger::LINGER_STALL;
pub(crate) use stream::{Stream, copy_to_uninit};

/// Submission and completion queue entries. The completion queue is large so that a burst over
/// thousands of connections rarely overflows (the kernel keeps overflowed completions anyway).
const ENTRIES: u32 = 1024;
const CQ_ENTRIES: u32 = 8192;
/// The buffer group of the provided receive buffers.
const BUF_GROUP: u16 = 0;
/// Completions that carry no operation of ours.
const EPOLL_UD: u64 = u64::MAX - 1;
const CANCEL_UD: u64 = u64::MAX;
/// A dropped connection's `Close` (its result is nobody's: the descriptor is gone either way).
const CLOSE_UD: u64 = u64::MAX - 2;
/// An accepted connection's `SetSockOpt` (`TCP_NODELAY`, best effort): only a failure completes.
const SOCKOPT_UD: u64 = u64::MAX - 3;
/// A connection's `FilesUpdate` into the table of registered files: only a failure completes.
const FILES_UD: u64 = u64::MAX - 4;
/// The most one receive completion carries (smaller completions bound how far a multishot
/// receive overshoots `INBOX_HIGH` before its cancellation lands).
const RECV_MAX: u32 = 16 * 1024;
/// Above this many unread bytes in a connection's inbox its receive is cancelled (the peer then
/// fills the kernel's buffers and TCP flow control slows it), and re-armed once the task has
/// read everything.
const INBOX_HIGH: usize = 64 * 1024;
/// The most bytes one `send` operation takes: a larger write goes out in chunks of this size, so
/// the driver never holds a second copy of a large write.
pub(crate) const SEND_CHUNK: usize = 64 * 1024;
/// A connection's send buffer larger than this after a send is freed rather than kept.
const SEND_KEEP: usize = 64 * 1024;

/// Sets the total byte cap of a multishot receive entry: `optlen`, at offset 44 of the kernel's
/// `io_uring_sqe` (shared with `file_index`), which the io-uring crate does not expose for
/// receives. The receive then ends (without `IORING_CQE_F_MORE`) once it has brought `cap`
/// bytes; kernels before 6.17 refuse the entry with `EINVAL`.
fn with_total_cap(entry: squeue::Entry, cap: u32) -> squeue::Entry {
    with_sqe_bytes(entry, 44, &cap.to_ne_bytes())
}

/// `entry` with `bytes` written at byte `offset` of its `io_uring_sqe`: for the fields of the
/// kernel's ABI that the io-uring crate does not expose for an opcode.
fn with_sqe_bytes(entry: squeue::Entry, offset: usize, bytes: &[u8]) -> squeue::Entry {
    const _: () = assert!(size_of::<squeue::Entry>() == 64);
    // SAFETY: `squeue::Entry` is `repr(C)` around the kernel's 64-byte `io_uring_sqe` (its only
    // field), whose integer fields tile it without padding, so every byte is initialised and
    // any bytes are a valid entry.
    let mut raw = unsafe { std::mem::transmute::<squeue::Entry, [u8; 64]>(entry) };
    raw[offset..offset + bytes.len()].copy_from_slice(bytes);
    // SAFETY: as above.
    unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) }
}

/// Why io_uring could not be used; the loop falls back to epoll with this reason when allowed.
pub(crate) fn probe_error(e: &io::Error, step: &str) -> String {
    format!("io_uring unavailable ({step}: {e})")
}

enum OpKind {
    /// `capped`: a multishot receive with a total byte cap.
    Recv { capped: bool },
    /// The connection's send (its bytes are in `ConnState::send_buf`).
    Send,
    /// A connect (connect.rs; its address is in `Uring::connect_addrs`).
    Connect,
}

struct Op {
    generation: u32,
    conn: Rc<ConnState>,
    kind: OpKind,
}

/// The io_uring half of a loop.
pub(crate) struct Uring {
    ring: RefCell<IoUring>,
    ops: RefCell<Slab<Op>>,
    generation: Cell<u32>,
    bufs: BufRing,
    /// The table of registered files the connections' sockets go in (fixed_files.rs).
    files: FixedFiles,
    epoll_fd: RawFd,
    epoll_armed: Cell<bool>,
    epoll_ready: Cell<bool>,
    /// Set when `push` had to enter the ring (its queue was full) since `reap` last looked.
    entered: Cell<bool>,
    /// Dropped sockets whose write-behind send is still going.
    lingering: RefCell<Vec<Lingering>>,
    /// How long a lingering send may make no progress before the connection is reset.
    linger_stall: Duration,
    /// Multishot receives take a total byte cap (Linux 6.17+; cleared at the first refusal).
    recv_cap: Cell<bool>,
    /// The listeners' multishot accepts (accept.rs).
    accepts: RefCell<Slab<Rc<accept::AcceptState>>>,
    /// The batch of completions being (or last) reaped, numbered from 1, and whether
    /// completions overflowed when it was taken (accept.rs: an accept's address buffer is its
    /// last connection's in the batch, if none overflowed and nothing entered since).
    reap_batch: Cell<u64>,
    reap_overflow: Cell<bool>,
    /// A reap is under way (a reap inside a handler gives the batch's address up: accept.rs).
    reaping: Cell<bool>,
    /// The completion queue's count of completions the kernel dropped, as last seen.
    cq_dropped: Cell<u32>,
    /// Datagram sockets' operations and buffer group (after `ring`: dropped once it is closed).
    dgram: DgramOps,
    /// The addresses of the connects in flight, by `user_data` (kept out of `Op`, which stays
    /// small for the receives and sends; the kernel may read one until its completion).
    connect_addrs: RefCell<Vec<(u64, Box<socket2::SockAddr>)>>,
    /// Connects go on the ring: Linux 6.1+, which completes a non-blocking socket's
    /// `IORING_OP_CONNECT` with the connect's outcome (before, the retry after the poll could
    /// end with `EALREADY` or `EISCONN`); older kernels connect through the reactor.
    connect_on_ring: bool,
    /// `SetSockOpt` ring commands work (Linux 6.7+; cleared at the first failure).
    sockopt_on_ring: Cell<bool>,
    /// The loop runs (`block_on`): a queued `Close` goes with its next wait. Otherwise nothing
    /// would submit it soon, so it is submitted at once.
    running: Cell<bool>,
    /// States of closed connections that nothing else held, kept for the next connections
    /// (conn.rs: `ConnState` allocations are reused, at most `SPARE_STATES`).
    spare_states: RefCell<Vec<Rc<ConnState>>>,
    /// Small empty buffers of closed connections, for the next inboxes that receive
    /// (conn.rs: at most `SPARE_BUFS` of at most `SPARE_BUF_MAX` bytes each).
    spare_bufs: RefCell<Vec<Vec<u8>>>,
    /// Connections' send slots in the table with no send in flight (not counted by `len`).
    idle_sends: Cell<usize>,
}

/// A dropped socket's write-behind send that is still going.
struct Lingering {
    conn: Rc<ConnState>,
    /// The send operation.
    ud: u64,
    /// The send's progress count when last seen, and when it last changed.
    progress: u32,
    moved_at: Instant,
}

fn errno_of(res: i32) -> i32 {
    -res
}

/// Whether the running kernel's release (`uname`) is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: `utsname` is plain bytes, valid zeroed; uname(2) fills it during the call.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, exclusively borrowed `utsname`.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return false;
    }
    let release: String = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let number = |p: Option<&str>| p.and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    (number(parts.next()), number(parts.next())) >= (major, minor)
}

impl Uring {
    /// Sets up a ring with the flags this driver needs; any refusal (no kernel support, a
    /// seccomp filter, a limit) comes back as the error the caller reports.
    pub(crate) fn new(epoll_fd: RawFd, linger_stall: Duration) -> Result<Uring, String> {
        // Multishot receives (and recvmsg), sends with a destination address: Linux 6.0; the
        // probe below sees only opcodes, not these forms, so the release is checked too.
        if !kernel_at_least(6, 1) {
            return Err("io_uring unavailable (this driver needs Linux 6.1 or later)".to_string());
        }
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .setup_cqsize(CQ_ENTRIES)
            .build(ENTRIES)
            .map_err(|e| probe_error(&e, "io_uring_setup"))?;
        if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_nodrop() {
            return Err("io_uring unavailable (kernel lacks EXT_ARG or NODROP)".to_string());
        }
        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| probe_error(&e, "probe"))?;
        for code in [
            opcode::RecvMulti::CODE,
            opcode::Send::CODE,
            opcode::SendMsg::CODE,
            opcode::RecvMsgMulti::CODE,
            opcode::PollAdd::CODE,
            opcode::AsyncCancel::CODE,
            opcode::Accept::CODE,
            opcode::Close::CODE,
            opcode::Connect::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(format!("io_uring unavailable (opcode {code} unsupported)"));
            }
        }
        let bufs =
            BufRing::new(INC_COUNT, INC_SIZE, true).map_err(|e| probe_error(&e, "buffer ring"))?;
        let bufs = match bufs.register(&ring) {
            Ok(()) => bufs,
            Err(_) => {
                // No incremental consumption before Linux 6.12: page-sized buffers.
                drop(bufs);
                let bufs = BufRing::new(PAGE_COUNT, PAGE_SIZE, false)
                    .map_err(|e| probe_error(&e, "buffer ring"))?;
                bufs.register(&ring)
                    .map_err(|e| probe_error(&e, "register buffer ring (needs Linux 5.19)"))?;
                bufs
            }
        };
        let files = FixedFiles::register(&ring, &probe);
        Ok(Uring {
            ring: RefCell::new(ring),
            ops: RefCell::new(Slab::with_capacity(256)),
            generation: Cell::new(0),
            bufs,
            files,
            epoll_fd,
            epoll_armed: Cell::new(false),
            epoll_ready: Cell::new(false),
            entered: Cell::new(false),
            lingering: RefCell::new(Vec::new()),
            linger_stall,
            recv_cap: Cell::new(true),
            accepts: RefCell::new(Slab::new()),
            reap_batch: Cell::new(0),
            reap_overflow: Cell::new(false),
            reaping: Cell::new(false),
            cq_dropped: Cell::new(0),
            dgram: DgramOps::default(),
            connect_addrs: RefCell::new(Vec::new()),
            connect_on_ring: kernel_at_least(6, 1),
            sockopt_on_ring: Cell::new(kernel_at_least(6, 7)),
            running: Cell::new(false),
            spare_states: RefCell::new(Vec::new()),
            spare_bufs: RefCell::new(Vec::new()),
            idle_sends: Cell::new(0),
        })
    }

    /// Whether a TCP connect goes on the ring (connect.rs) rather than through the reactor.
    pub(crate) fn connects_on_ring(&self) -> bool {
        self.connect_on_ring
    }

    /// Operations in flight (for `Stats`): the table's entries but the connections' kept send
    /// slots with no send in flight.
    pub(crate) fn len(&self) -> usize {
        self.ops.borrow().len() - self.idle_sends.get()
            + self.accepts.borrow().len()
            + self.dgram.len()
    }

    /// A closed connection's kept send slot, with no send in flight, leaves the table (it
    /// held the connection's state).
    pub(super) fn free_send_slot(&self, conn: &ConnState) {
        let ud = conn.send_slot.replace(0);
        if ud != 0 {
            self.ops.borrow_mut().remove(ud as u32 as usize);
            self.idle_sends.set(self.idle_sends.get() - 1);
        }
    }

    /// Queues `entry` (inlined: the entry is written straight into the queue's slot).
    #[inline]
    fn push(&self, entry: squeue::Entry) {
        // SAFETY: every buffer an entry points to is owned by `self.ops` (or the buffer ring)
        // until the operation's last completion has been reaped, or is a static, or is a cell
        // of the file table (`self.files`, dropped after the ring, unchanged until submitted).
        if unsafe { self.ring.borrow_mut().submission().push(&entry) }.is_err() {
            self.push_full(&entry);
        }
    }

    /// `push` found the queue full: hand it to the kernel (a plain submission, without
    /// GETEVENTS, so a completion queue that overflowed cannot refuse it) and try again.
    /// Operations that complete inline post their completions now: `reap` looks again.
    #[cold]
    #[inline(never)]
    fn push_full(&self, entry: &squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            self.entered.set(true);
            let queued = ring.submission().len() as u32;
            // SAFETY: no argument is passed; `queued` entries are initialised in the queue.
            let submitted = unsafe { ring.submitter().enter::<libc::sigset_t>(queued, 0, 0, None) };
            if submitted.is_err() {
                // Out of kernel memory, say: nothing else can make room; do not spin hot.
                std::thread::sleep(Duration::from_millis(1));
            }
            // SAFETY: as in `push`.
            if unsafe { ring.submission().push(entry) }.is_ok() {
                return;
            }
        }
    }

    fn insert(&self, conn: &Rc<ConnState>, kind: OpKind) -> u64 {
        // Never 0, so no `user_data` is 0 (0 means "none" in `ConnState`).
        let generation = self.generation.get().wrapping_add(1).max(1);
        self.generation.set(generation);
        let index = self.ops.borrow_mut().insert(Op {
            generation,
            conn: conn.clone(),
            kind,
        });
        index as u64 | (u64::from(generation) << 32)
    }

    fn arm_recv(&self, conn: &Rc<ConnState>) {
        let capped = self.recv_cap.get();
        let ud = self.insert(conn, OpKind::Recv { capped });
        conn.set_recv_op(Some(ud));
        let (fd, fixed) = conn.target();
        let entry = opcode::RecvMulti::new(types::Fd(fd), BUF_GROUP)
            .len(RECV_MAX)
            .build()
            .flags(fixed)
            .user_data(ud);
        let entry = if capped {
            // The receive ends by itself once it has brought the room left in the inbox, so a
            // task that stops reading never finds more than `INBOX_HIGH` there (the last
            // completion may bring up to `RECV_MAX` past the cap: the cap allows for it).
            let room = INBOX_HIGH.saturating_sub(conn.unread());
            let cap = room.saturating_sub(RECV_MAX as usize - 1).max(4096);
            with_total_cap(entry, cap as u32)
        } else {
            entry
        };
        self.push(entry);
    }

    /// Arms one receive of at most `len` bytes (a paused connection's window).
    fn arm_recv_once(&self, conn: &Rc<ConnState>, len: usize) {
        let ud = self.insert(conn, OpKind::Recv { capped: false });
        conn.set_recv_op(Some(ud));
        let (fd, fixed) = conn.target();
        let entry = opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), len as u32)
            .buf_group(BUF_GROUP)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT | fixed)
            .user_data(ud);
        self.push(entry);
    }

    fn push_send(&self, conn: &ConnState, ud: u64, buf: &[u8]) {
        // One operation sends at most 1 GiB; the completion continues with the rest.
        let len = buf.len().min(1 << 30) as u32;
        let (fd, fixed) = conn.target();
        let entry = opcode::Send::new(types::Fd(fd), buf.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .flags(fixed)
            .user_data(ud);
        self.push(entry);
    }

    /// Copies at most `SEND_CHUNK` bytes of `slices` into the connection's send buffer and
    /// queues their send. The caller checked that no send is in flight.
    fn start_send_vectored(&self, conn: &Rc<ConnState>, slices: &[io::IoSlice<'_>]) -> usize {
        let len = {
            let mut buf = conn.send_buf.borrow_mut();
            buf.clear();
            for slice in slices {
                let room = SEND_CHUNK - buf.len();
                buf.extend_from_slice(&slice[..slice.len().min(room)]);
                if buf.len() == SEND_CHUNK {
                    break;
                }
            }
            buf.len()
        };
        self.send_buffer(conn);
        len
    }

    /// Queues the send of the connection's whole send buffer. Neither the buffer nor the state
    /// holding it changes until the operation's last completion (one send at a time, and the
    /// operation keeps the state alive).
    fn send_buffer(&self, conn: &Rc<ConnState>) {
        let ud = match conn.send_slot.get() {
            0 => {
                let ud = self.insert(conn, OpKind::Send);
                conn.send_slot.set(ud);
                ud
            }
            ud => {
                self.idle_sends.set(self.idle_sends.get() - 1);
                if conn.file.get() == NO_SLOT && !conn.set(FILE_ASKED, true) && !conn.has(CLOSED) {
                    // A second send: the connection lives past one exchange, and its sends from
                    // now on name its slot (fixed_files.rs).
                    self.install_file(conn);
                }
                ud
            }
        };
        conn.set_send_op(Some(ud));
        conn.send_off.set(0);
        conn.set(SEND_CANCELLED, false);
        conn.set(BEHIND, false);
        self.push_send_rest(conn, ud);
    }

    /// Queues the send of what is left of the connection's send buffer (`send_buf[send_off..]`).
    fn push_send_rest(&self, conn: &ConnState, ud: u64) {
        let (ptr, len) = {
            let buf = conn.send_buf.borrow();
            let rest = &buf[conn.send_off.get().min(buf.len())..];
            (rest.as_ptr(), rest.len())
        };
        // SAFETY: the connection's send buffer, which stays unchanged and alive (the operation
        // holds its state) until the operation's last completion.
        self.push_send(conn, ud, unsafe { std::slice::from_raw_parts(ptr, len) });
    }

    fn cancel(&self, ud: u64) {
        self.push(opcode::AsyncCancel::new(ud).build().user_data(CANCEL_UD));
    }

    /// Closes `fd`, which the caller gives up, by a `Close` entry: submitted with the loop's
    /// next wait (no system call of its own), or at once when the loop is not running. A
    /// socket's `Close` completes inline at submission (it has no `flush`, so nothing is left
    /// for io-wq), and only a failure posts a completion (`SKIP_SUCCESS`, Linux 5.17, older than
    /// the buffer ring this driver needs), which nobody is left to hear of: the kernel takes
    /// the number out of the table before it closes the file, so the descriptor is gone
    /// either way.
    fn close_fd(&self, fd: RawFd) {
        let entry = opcode::Close::new(types::Fd(fd))
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(CLOSE_UD);
        self.push(entry);
        if !self.running.get() {
            self.submit_now();
        }
    }

    /// `block_on` starts (`true`) or returns (`false`); on return what is queued is submitted
    /// and its completions handled, so the descriptors of sockets dropped in the loop's last
    /// turn are closed and their cancelled operations are over.
    pub(crate) fn set_running(&self, running: bool) {
        self.running.set(running);
        if !running && !self.ring.borrow_mut().submission().is_empty() {
            self.submit_and_run();
            self.reap();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kernel_release_compares_by_major_then_minor() {
        assert!(super::kernel_at_least(2, 6));
        assert!(!super::kernel_at_least(999, 0));
    }
}
