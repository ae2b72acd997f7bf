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

use crate::reactor::{Reactor, Waiter};

/// Submission and completion queue entries. The completion queue is large so that a burst over
/// thousands of connections rarely overflows (the kernel keeps overflowed completions anyway).
const ENTRIES: u32 = 1024;
const CQ_ENTRIES: u32 = 8192;
/// The buffer group of the provided receive buffers.
const BUF_GROUP: u16 = 0;
/// Completions that carry no operation of ours.
const EPOLL_UD: u64 = u64::MAX - 1;
const CANCEL_UD: u64 = u64::MAX;
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
    const _: () = assert!(size_of::<squeue::Entry>() == 64);
    // SAFETY: `squeue::Entry` is `repr(C)` around the kernel's 64-byte `io_uring_sqe`, whose
    // fields tile it without padding, so every byte is initialised and any bytes are a valid
    // entry; only the 4 bytes of `optlen` change.
    let mut raw: [u8; 64] = unsafe { std::mem::transmute(entry) };
    raw[44..48].copy_from_slice(&cap.to_ne_bytes());
    // SAFETY: as above.
    unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) }
}

/// Why io_uring could not be used; the loop falls back to epoll with this reason when allowed.
pub(crate) fn probe_error(e: &io::Error, step: &str) -> String {
    format!("io_uring unavailable ({step}: {e})")
}

/// The ring of provided receive buffers the kernel picks from for multishot receives.
///
/// Preferred layout (Linux 6.12+): a few large buffers consumed incrementally
/// (`IOU_PBUF_RING_INC`): consecutive receives, of any connection, pack into one buffer, so small
/// messages touch a few cache lines instead of a fresh page each, and a 16 KiB message needs one
/// completion. Older kernels get many page-sized buffers, one per completion.
struct BufRing {
    entries: *mut types::BufRingEntry,
    entries_layout: Layout,
    data: *mut u8,
    data_layout: Layout,
    count: u16,
    size: usize,
    incremental: bool,
    /// Incremental mode: how much of each buffer the kernel has used so far.
    used: Box<[Cell<u32>]>,
    /// Our tail (buffers handed to the kernel); published with a release store.
    tail: Cell<u16>,
    /// Set if the kernel may still use the memory when the driver is dropped: then it is leaked.
    leak: Cell<bool>,
}

/// `IOU_PBUF_RING_INC` from the kernel's uapi (not re-exported by the io-uring crate).
const IOU_PBUF_RING_INC: u16 = 2;

/// Incremental layout: 32 buffers of 64 KiB (the ring also bounds how far a receive overshoots
/// the inbox limit before its cancellation lands: at most the whole ring, 2 MiB). Fallback: 1024 buffers of 4 KiB.
const INC_COUNT: u16 = 32;
const INC_SIZE: usize = 64 * 1024;
const PAGE_COUNT: u16 = 1024;
const PAGE_SIZE: usize = 4096;

impl BufRing {
    fn new(count: u16, size: usize, incremental: bool) -> io::Result<BufRing> {
        let invalid = |_| io::Error::from(io::ErrorKind::InvalidInput);
        if !count.is_power_of_two() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let entries_layout =
            Layout::from_size_align(count as usize * size_of::<types::BufRingEntry>(), 4096)
                .map_err(invalid)?;
        let data_layout = Layout::from_size_align(count as usize * size, 64).map_err(invalid)?;
        // SAFETY: both layouts have a non-zero size. The memory is freed in Drop with the same
        // layouts (or leaked if the kernel may still use it).
        let (entries, data) = unsafe {
            (
                alloc::alloc_zeroed(entries_layout).cast::<types::BufRingEntry>(),
                alloc::alloc(data_layout),
            )
        };
        if entries.is_null() || data.is_null() {
            // SAFETY: a non-null pointer came from `alloc` with this layout.
            unsafe {
                if !entries.is_null() {
                    alloc::dealloc(entries.cast(), entries_layout);
                }
                if !data.is_null() {
                    alloc::dealloc(data, data_layout);
                }
            }
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let ring = BufRing {
            entries,
            entries_layout,
            data,
            data_layout,
            count,
            size,
            incremental,
            used: (0..count).map(|_| Cell::new(0)).collect(),
            tail: Cell::new(0),
            leak: Cell::new(false),
        };
        for bid in 0..count {
            ring.push(bid);
        }
        ring.publish();
        Ok(ring)
    }

    /// Registers the ring with `ring` as buffer group `BUF_GROUP`.
    fn register(&self, ring: &IoUring) -> io::Result<()> {
        let flags = if self.incremental {
            IOU_PBUF_RING_INC
        } else {
            0
        };
        // SAFETY: the ring memory is page-aligned, holds `count` initialised entries and stays
        // valid until the ring is closed: `Uring` drops `ring` before `bufs` (field order) and
        // leaks `bufs` if operations may still use it.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                self.entries as u64,
                self.count,
                BUF_GROUP,
                flags,
            )
        }
    }

    /// Hands buffer `bid` back to the kernel, whole (visible after `publish`).
    fn push(&self, bid: u16) {
        let tail = self.tail.get();
        let index = (tail & (self.count - 1)) as usize;
        // SAFETY: `index` < count, inside the allocation. The slot lies past the kernel's view
        // (between head and tail it only reads published entries), and the kernel only touches
        // the ring inside our own system calls (single issuer, deferred task work), so nothing
        // else accesses it now. The setters leave entry 0's `resv` (the tail) alone.
        unsafe {
            let entry = &mut *self.entries.add(index);
            entry.set_addr(self.data.add(bid as usize * self.size) as u64);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail.set(tail.wrapping_add(1));
    }

    /// Publishes the tail: the kernel may use every buffer pushed so far.
    fn publish(&self) {
        // SAFETY: `entries` is the page-aligned base of a ring of initialised entries, as `tail`
        // requires; the tail field is a u16 the kernel reads atomically.
        unsafe {
            let tail = types::BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail.get(), Ordering::Release);
        }
    }

    /// Passes the `len` bytes a completion delivered in buffer `bid` to `f`, then gives the
    /// buffer back if the kernel is done with it (`more`: incremental mode keeps filling it).
    fn take<R>(&self, bid: u16, len: usize, more: bool, f: impl FnOnce(&[u8]) -> R) -> R {
        // `count` is a power of two (the ring's size must be), so this is `bid % count`.
        let bid = bid & (self.count - 1);
        let start = if self.incremental {
            let used = &self.used[bid as usize];
            let start = used.get() as usize;
            used.set(if more { (start + len) as u32 } else { 0 });
            start
        } else {
            0
        };
        let start = start.min(self.size);
        let len = len.min(self.size - start);
        // SAFETY: the range lies inside buffer `bid` of the data allocation. The kernel wrote it
        // before posting the completion we are handling, and does not write it again until the
        // buffer is pushed back (below, after `f` is done with the slice); in incremental mode
        // it only writes past `start + len`.
        let r = f(unsafe {
            std::slice::from_raw_parts(self.data.add(bid as usize * self.size + start), len)
        });
        if !more || !self.incremental {
            self.push(bid);
        }
        r
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.leak.get() {
            return;
        }
        // SAFETY: allocated in `new` with these layouts; the ring (and its registration) is gone
        // and no receive is in flight, so the kernel no longer refers to the memory.
        unsafe {
            alloc::dealloc(self.entries.cast(), self.entries_layout);
            alloc::dealloc(self.data, self.data_layout);
        }
    }
}

/// The state of one connection, shared by its socket and by its operations in flight.
pub(crate) struct ConnState {
    /// The socket's descriptor; after the socket is dropped with write-behind bytes still in
    /// flight, a duplicate the driver owns until that send ends (see `Conn::close`).
    fd: Cell<RawFd>,
    /// errno of a receive that failed (0: none), delivered after the bytes before it.
    error: Cell<i32>,
    /// Bytes received and not yet read by the task (`inbox[pos..]`).
    inbox: RefCell<Vec<u8>>,
    pos: Cell<usize>,
    /// The armed multishot receive and the send in flight (`user_data`, 0: none).
    recv: Cell<u64>,
    send: Cell<u64>,
    /// The bytes of the send in flight (`send_buf[send_off..]` still to go). One send at a
    /// time per connection, so the buffer lives here, reused from message to message; the
    /// kernel reads it only while `send` is set, and the operation keeps this state alive.
    send_buf: RefCell<Vec<u8>>,
    send_off: Cell<usize>,
    /// errno of the last send if it failed and nobody has heard of it yet (0: none).
    send_error: Cell<i32>,
    /// Bumped whenever a send makes partial progress (restarts a write's stall timeout).
    send_progress: Cell<u32>,
    /// `EOF`, `CLOSED`, `RECV_CANCELLED`, `BEHIND`, `SEND_CANCELLED`,
    /// `SHUTDOWN_PENDING`, `LINGER`, `PAUSED`, `DISCARDED`.
    flags: Cell<u16>,
    reader: Waiter,
    writer: Waiter,
}

/// The peer closed its side (after the bytes in the inbox).
const EOF: u16 = 1;
/// The socket was dropped: completions are reaped, nothing more is started.
const CLOSED: u16 = 2;
/// The receive's cancellation was requested.
const RECV_CANCELLED: u16 = 4;
/// The send in flight carries write-behind bytes (the traits' `poll_write` already reported
/// them written): closing the socket lets it finish instead of cancelling it.
const BEHIND: u16 = 16;
/// The send in flight was cancelled: a short completion is final, not continued.
const SEND_CANCELLED: u16 = 32;
/// `shutdown_write` came while a write-behind send was in flight: shut down when it ends.
const SHUTDOWN_PENDING: u16 = 64;
/// The socket is gone and `fd` is the driver's duplicate, closed when the send in flight ends.
const LINGER: u16 = 128;
/// The inbox went over `INBOX_HIGH`: the multishot receive was cancelled, and single receives
/// sized to the room left keep the data flowing as the task reads (like a TCP window that opens
/// as the application reads), until a read finds the inbox empty and streaming resumes.
const PAUSED: u16 = 256;
/// A receive completion brought bytes after the socket was dropped: they were discarded unread
/// (so the close must reset the connection, see `Conn::close`).
const DISCARDED: u16 = 512;
/// How long a dropped socket's write-behind bytes may wait for the peer to take any, by default,
/// before the connection is reset (`Builder::linger_timeout`).
pub(crate) const LINGER_STALL: Duration = Duration::from_secs(60);

impl ConnState {
    /// Bytes in the inbox not yet read.
    fn unread(&self) -> usize {
        self.inbox.borrow().len() - self.pos.get()
    }

    fn recv_op(&self) -> Option<u64> {
        Some(self.recv.get()).filter(|&ud| ud != 0)
    }

    fn set_recv_op(&self, ud: Option<u64>) {
        self.recv.set(ud.unwrap_or(0));
    }

    fn send_op(&self) -> Option<u64> {
        Some(self.send.get()).filter(|&ud| ud != 0)
    }

    fn set_send_op(&self, ud: Option<u64>) {
        self.send.set(ud.unwrap_or(0));
    }

    fn has(&self, flag: u16) -> bool {
        self.flags.get() & flag != 0
    }

    /// Sets or clears `flag`; returns whether it was set before.
    fn set(&self, flag: u16, on: bool) -> bool {
        let old = self.flags.get();
        self.flags.set(if on { old | flag } else { old & !flag });
        old & flag != 0
    }
}

enum OpKind {
    /// `capped`: a multishot receive with a total byte cap.
    Recv { capped: bool },
    /// The connection's send (its bytes are in `ConnState::send_buf`).
    Send,
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
    /// Completions copied out of the queue before they are handled (kept for its allocation).
    cqes: RefCell<Vec<(u64, i32, u32)>>,
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

impl Uring {
    /// Sets up a ring with the flags this driver needs; any refusal (no kernel support, a
    /// seccomp filter, a limit) comes back as the error the caller reports.
    pub(crate) fn new(epoll_fd: RawFd, linger_stall: Duration) -> Result<Uring, String> {
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
            opcode::PollAdd::CODE,
            opcode::AsyncCancel::CODE,
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
        Ok(Uring {
            ring: RefCell::new(ring),
            ops: RefCell::new(Slab::with_capacity(256)),
            generation: Cell::new(0),
            bufs,
            cqes: RefCell::new(Vec::with_capacity(256)),
            epoll_fd,
            epoll_armed: Cell::new(false),
            epoll_ready: Cell::new(false),
            entered: Cell::new(false),
            lingering: RefCell::new(Vec::new()),
            linger_stall,
            recv_cap: Cell::new(true),
        })
    }

    /// Operations in flight (for `Stats`).
    pub(crate) fn len(&self) -> usize {
        self.ops.borrow().len()
    }

    fn push(&self, entry: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: every buffer an entry points to is owned by `self.ops` (or the buffer ring)
            // until the operation's last completion has been reaped.
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                return;
            }
            // The queue is full: hand it to the kernel (a plain submission, without GETEVENTS,
            // so a completion queue that overflowed cannot refuse it) and try again. Operations
            // that complete inline post their completions now: `reap` looks again.
            self.entered.set(true);
            let queued = ring.submission().len() as u32;
            // SAFETY: no argument is passed; `queued` entries are initialised in the queue.
            let submitted = unsafe { ring.submitter().enter::<libc::sigset_t>(queued, 0, 0, None) };
            if submitted.is_err() {
                // Out of kernel memory, say: nothing else can make room; do not spin hot.
                std::thread::sleep(Duration::from_millis(1));
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
        let entry = opcode::RecvMulti::new(types::Fd(conn.fd.get()), BUF_GROUP)
            .len(RECV_MAX)
            .build()
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
        let entry = opcode::Recv::new(types::Fd(conn.fd.get()), std::ptr::null_mut(), len as u32)
            .buf_group(BUF_GROUP)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
            .user_data(ud);
        self.push(entry);
    }

    fn push_send(&self, fd: RawFd, ud: u64, buf: &[u8]) {
        // One operation sends at most 1 GiB; the completion continues with the rest.
        let len = buf.len().min(1 << 30) as u32;
        let entry = opcode::Send::new(types::Fd(fd), buf.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
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
        let ud = self.insert(conn, OpKind::Send);
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
        self.push_send(conn.fd.get(), ud, unsafe {
            std::slice::from_raw_parts(ptr, len)
        });
    }

    fn cancel(&self, ud: u64) {
        self.push(opcode::AsyncCancel::new(ud).build().user_data(CANCEL_UD));
    }

    /// Submits what is queued now (used before a descriptor with queued entries is closed, so
    /// that no entry can reach a descriptor number the kernel hands out again).
    fn submit_now(&self) {
        let mut ring = self.ring.borrow_mut();
        for _ in 0..100 {
            let queued = ring.submission().len() as u32;
            if queued == 0 {
                return;
            }
            // SAFETY: no argument is passed; `queued` entries are initialised in the queue. A
            // plain submission (no GETEVENTS) is not refused for an overflowed completion queue.
            if unsafe { ring.submitter().enter::<libc::sigset_t>(queued, 0, 0, None) }.is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Submits what is queued and runs the deferred completion work now, without waiting:
    /// cancellations finish here and let go of their descriptors' files (their completions are
    /// handled at the next turn).
    fn submit_and_run(&self) {
        let mut ring = self.ring.borrow_mut();
        let queued = ring.submission().len() as u32;
        let flags = io_uring::EnterFlags::GETEVENTS.bits();
        // SAFETY: no argument is passed; `queued` entries are initialised in the queue.
        let _ = unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(queued, 0, flags, None)
        };
    }

    /// Keeps a dropped socket's write-behind send going while the peer keeps taking bytes.
    fn linger(&self, conn: &Rc<ConnState>, ud: u64) {
        self.lingering.borrow_mut().push(Lingering {
            conn: conn.clone(),
            ud,
            progress: conn.send_progress.get(),
            moved_at: Instant::now(),
        });
    }

    /// The lingering send of `conn` ended: close the driver's duplicate descriptor.
    fn end_linger(&self, conn: &Rc<ConnState>) {
        self.lingering
            .borrow_mut()
            .retain(|l| !Rc::ptr_eq(&l.conn, conn));
        // SAFETY: under LINGER, `fd` is the duplicate made by `Conn::close`, owned by the driver
        // and closed exactly once, here (its operation has just ended).
        unsafe { libc::close(conn.fd.get()) };
        conn.fd.set(-1);
    }

    /// Dropped sockets whose write-behind bytes are still going out.
    pub(crate) fn lingering(&self) -> usize {
        self.lingering.borrow().len()
    }

    /// Gives up on every lingering send now (a drain deadline has passed): what is left goes
    /// to the kernel, or the connection is reset.
    pub(crate) fn give_up_lingering(&self) {
        if self.lingering.borrow().is_empty() {
            return;
        }
        self.expire_lingering(Duration::ZERO);
        self.submit_and_run();
        self.reap();
    }

    /// Gives up on lingering sends that made no progress for `stall` (cancelled; the send's
    /// completion hands what is left to the kernel or resets the connection, see
    /// `end_cancelled_linger`).
    fn expire_lingering(&self, stall: Duration) {
        let now = Instant::now();
        let expired: Vec<u64> = self
            .lingering
            .borrow_mut()
            .iter_mut()
            .filter_map(|l| {
                let progress = l.conn.send_progress.get();
                if progress != l.progress {
                    l.progress = progress;
                    l.moved_at = now;
                }
                let stalled = now.duration_since(l.moved_at) >= stall;
                (stalled && !l.conn.set(SEND_CANCELLED, true)).then_some(l.ud)
            })
            .collect();
        for ud in expired {
            self.cancel(ud);
        }
    }

    /// One turn of the loop's wait: submits everything queued, waits for at least one completion
    /// (or `timeout`; zero means do not wait), handles the completions, and polls the readiness
    /// reactor when its descriptor fired. Returns whether the cross-thread waker fired.
    pub(crate) fn turn(&self, timeout: Option<Duration>, reactor: &Reactor) -> io::Result<bool> {
        let timeout = if self.lingering.borrow().is_empty() {
            timeout
        } else {
            self.expire_lingering(self.linger_stall);
            let check =
                (self.linger_stall / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
            Some(timeout.map_or(check, |t| t.min(check)))
        };
        if !self.epoll_armed.get() {
            self.epoll_armed.set(true);
            let entry = opcode::PollAdd::new(types::Fd(self.epoll_fd), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(EPOLL_UD);
            self.push(entry);
        }
        let result = {
            let mut ring = self.ring.borrow_mut();
            let (pending, taskrun, overflow) = {
                let sq = ring.submission();
                (sq.len(), sq.taskrun(), sq.cq_overflow())
            };
            let ready = !ring.completion().is_empty();
            let ring = &*ring;
            // Something to handle already (or no time to wait): submit, without waiting, and
            // only if there is anything to submit or deferred completion work to run.
            let no_wait = self.epoll_ready.get() || ready || timeout == Some(Duration::ZERO);
            match timeout {
                _ if no_wait => {
                    if pending > 0 || taskrun || overflow {
                        ring.submit()
                    } else {
                        Ok(0)
                    }
                }
                Some(d) => {
                    let ts = types::Timespec::from(d);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    ring.submitter().submit_with_args(1, &args)
                }
                None => ring.submit_and_wait(1),
            }
        };
        match result {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                ) => {}
            Err(e) => return Err(e),
        }
        self.reap();
        let mut woken = false;
        if self.epoll_ready.replace(false) {
            woken = reactor.poll(Some(Duration::ZERO))?;
            if reactor.was_full() {
                // More readiness waits in epoll than one call returned: look again next turn.
                self.epoll_ready.set(true);
            }
        }
        Ok(woken)
    }

    /// Whether the next turn must not block (readiness is left over from this one).
    pub(crate) fn has_pending(&self) -> bool {
        self.epoll_ready.get()
    }

    /// Handles every completion in the queue. Completions are posted only inside our own
    /// `io_uring_enter`s, so one pass takes them all unless handling one entered the ring (a
    /// full submission queue in `push`): then it looks again.
    fn reap(&self) {
        let mut cqes = std::mem::take(&mut *self.cqes.borrow_mut());
        loop {
            self.entered.set(false);
            cqes.clear();
            {
                let mut ring = self.ring.borrow_mut();
                cqes.extend(
                    ring.completion()
                        .map(|c| (c.user_data(), c.result(), c.flags())),
                );
            }
            if cqes.is_empty() {
                break;
            }
            for &(ud, res, flags) in &cqes {
                self.complete(ud, res, flags);
            }
            self.bufs.publish();
            if !self.entered.get() {
                break;
            }
        }
        *self.cqes.borrow_mut() = cqes;
    }

    fn complete(&self, ud: u64, res: i32, flags: u32) {
        if ud == CANCEL_UD {
            return;
        }
        if ud == EPOLL_UD {
            self.epoll_ready.set(true);
            if !cqueue::more(flags) {
                self.epoll_armed.set(false);
            }
            return;
        }
        let index = ud as u32 as usize;
        let mut ops = self.ops.borrow_mut();
        let op = match ops.get_mut(index) {
            Some(op) if op.generation == (ud >> 32) as u32 => op,
            _ => {
                drop(ops);
                if let Some(bid) = cqueue::buffer_select(flags) {
                    let len = res.max(0) as usize;
                    self.bufs.take(bid, len, cqueue::buffer_more(flags), |_| ());
                }
                return;
            }
        };
        let conn = op.conn.clone();
        match &mut op.kind {
            &mut OpKind::Recv { capped } => {
                let more = cqueue::more(flags);
                if !more {
                    ops.remove(index);
                    conn.set_recv_op(None);
                }
                drop(ops);
                if let Some(bid) = cqueue::buffer_select(flags) {
                    let len = res.max(0) as usize;
                    self.bufs
                        .take(bid, len, cqueue::buffer_more(flags), |bytes| {
                            if !conn.has(CLOSED) {
                                conn.inbox.borrow_mut().extend_from_slice(bytes);
                            } else if !bytes.is_empty() {
                                conn.set(DISCARDED, true);
                            }
                        });
                }
                if res > 0 {
                    if more
                        && !conn.has(RECV_CANCELLED)
                        && conn.inbox.borrow().len() - conn.pos.get() > INBOX_HIGH
                    {
                        conn.set(RECV_CANCELLED, true);
                        conn.set(PAUSED, true);
                        self.cancel(ud);
                    }
                } else if res == 0 {
                    conn.set(EOF, true);
                } else if res == -libc::ENOBUFS || (res == -libc::EINVAL && capped) {
                    if res == -libc::EINVAL {
                        // A kernel before 6.17: no total cap on multishot receives. The
                        // inbox limit then relies on cancelling the receive (`PAUSED`).
                        self.recv_cap.set(false);
                    }
                    // The buffer ring ran dry (they are all back now): receive again.
                    if !more && !conn.has(CLOSED) && !conn.has(RECV_CANCELLED) {
                        if conn.has(PAUSED) {
                            let room = INBOX_HIGH.saturating_sub(conn.unread()).max(4096);
                            self.arm_recv_once(&conn, room);
                        } else {
                            self.arm_recv(&conn);
                        }
                    }
                } else if res != -libc::ECANCELED {
                    conn.error.set(errno_of(res));
                }
                if !more {
                    conn.set(RECV_CANCELLED, false);
                }
                conn.reader.wake();
            }
            OpKind::Send => {
                drop(ops);
                self.complete_send(&conn, index, ud, res);
            }
        }
    }

    /// A completion of the connection's send: continue a short send, or end it (reporting its
    /// failure to the next write, following it with a deferred shutdown, ending a linger).
    fn complete_send(&self, conn: &Rc<ConnState>, index: usize, ud: u64, res: i32) {
        let len = conn.send_buf.borrow().len();
        if res > 0 {
            conn.send_off.set(conn.send_off.get() + res as usize);
            if conn.send_off.get() < len && !conn.has(SEND_CANCELLED) {
                // A short send: the rest goes out from the same buffer.
                conn.send_progress
                    .set(conn.send_progress.get().wrapping_add(1));
                self.push_send_rest(conn, ud);
                conn.writer.wake();
                return;
            }
        }
        let sent = conn.send_off.get();
        let errno = if res < 0 {
            errno_of(res)
        } else if sent < len {
            // The kernel took nothing, or the send was cancelled: never "success, short".
            if conn.has(SEND_CANCELLED) || conn.has(CLOSED) {
                libc::ECANCELED
            } else {
                libc::EPIPE
            }
        } else {
            0
        };
        self.ops.borrow_mut().remove(index);
        conn.set_send_op(None);
        conn.set(BEHIND, false);
        if conn.has(LINGER) && errno == libc::ECANCELED {
            // The driver gave up on a lingering send (the peer took nothing for too long, or
            // the loop is going): what is left goes to the kernel, as on epoll, or the peer
            // must see a reset, never a clean end of stream after missing bytes.
            hand_over_or_reset(conn);
        }
        if conn.set(SHUTDOWN_PENDING, false) && (!conn.has(CLOSED) || conn.has(LINGER)) {
            // SAFETY: `fd` is the live socket's descriptor, or (LINGER) the duplicate the
            // driver owns until `end_linger` below; never a closed descriptor's number.
            unsafe { libc::shutdown(conn.fd.get(), libc::SHUT_WR) };
        }
        if conn.set(LINGER, false) {
            self.end_linger(conn);
        }
        conn.send_error.set(errno);
        let mut buf = conn.send_buf.borrow_mut();
        if buf.capacity() > SEND_KEEP {
            // A large write is over: an idle connection keeps no large buffer.
            *buf = Vec::new();
        }
        drop(buf);
        conn.writer.wake();
    }
}

/// The rest of a dropped socket's send buffer goes to the kernel's socket buffer without
/// waiting (the kernel then owns it, as after a `close` on epoll); if it does not all fit, the
/// connection is set to close with a reset.
fn hand_over_or_reset(conn: &ConnState) {
    let fd = conn.fd.get();
    let buf = conn.send_buf.borrow();
    let mut off = conn.send_off.get().min(buf.len());
    while off < buf.len() {
        let rest = &buf[off..];
        // SAFETY: `fd` is the driver's open duplicate of the socket (LINGER); `rest` is valid
        // for reads of `rest.len()` bytes during the call.
        let n = unsafe {
            libc::send(
                fd,
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        match n {
            n if n > 0 => off += n as usize,
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    conn.send_off.set(off);
    if off < buf.len() {
        reset_on_close(fd);
    }
}

/// Makes the close of `fd` (its last descriptor) reset the connection (`SO_LINGER` 0).
fn reset_on_close(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is an open socket descriptor; `linger` is a valid `struct linger` of the size
    // passed, read during the call only.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

impl Uring {
    /// One bounded wait for completions, then handles them (used while the loop is dropped).
    /// Returns false if the ring failed.
    fn wait_and_reap(&self, at_most: Duration) -> bool {
        let r = {
            let ring = self.ring.borrow();
            let ts = types::Timespec::from(at_most);
            let args = types::SubmitArgs::new().timespec(&ts);
            ring.submitter().submit_with_args(1, &args)
        };
        if let Err(e) = r
            && !matches!(
                e.raw_os_error(),
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
            )
        {
            return false;
        }
        self.reap();
        true
    }
}

/// How long dropping a loop waits for lingering write-behind sends that make no progress.
const TEARDOWN_STALL: Duration = Duration::from_secs(2);

impl Drop for Uring {
    fn drop(&mut self) {
        // Bytes reported written still on their way: let them leave while the peers take them
        // (a slow reader), but give up on a stall of `min(linger_stall, TEARDOWN_STALL)`; then
        // the cancellations below hand what is left to the kernel, or reset the connections
        // whose rest does not fit. (`Shutdown::drain` gives up on them at its deadline.)
        let stall = self.linger_stall.min(TEARDOWN_STALL);
        let mut moved_at = Instant::now();
        let mut last = None;
        while !self.lingering.borrow().is_empty() {
            let progress: u64 = {
                let lingering = self.lingering.borrow();
                let moved: u64 = lingering
                    .iter()
                    .map(|l| u64::from(l.conn.send_progress.get()))
                    .sum();
                moved + lingering.len() as u64
            };
            if last != Some(progress) {
                last = Some(progress);
                moved_at = Instant::now();
            }
            if moved_at.elapsed() >= stall || !self.wait_and_reap(Duration::from_millis(20)) {
                break;
            }
        }
        // Cancel what is still in flight and reap it, so the kernel lets go of our buffers. A
        // cancelled send is final: a short completion is not continued.
        if !self.ops.borrow().is_empty() {
            for op in self.ops.borrow().iter().map(|(_, op)| op) {
                if let OpKind::Send = op.kind {
                    op.conn.set(SEND_CANCELLED, true);
                }
            }
            let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(CANCEL_UD);
            self.push(cancel);
            let deadline = Instant::now() + Duration::from_millis(200);
            while !self.ops.borrow().is_empty() && Instant::now() < deadline {
                if !self.wait_and_reap(Duration::from_millis(10)) {
                    break;
                }
            }
        }
        // Duplicates of dropped sockets whose send never ended: the driver owns them.
        let lingering: Vec<_> = self
            .lingering
            .borrow()
            .iter()
            .map(|l| l.conn.clone())
            .collect();
        for conn in lingering {
            if conn.set(LINGER, false) {
                // Its bytes never all left: the peer must see a reset, not an end of stream.
                reset_on_close(conn.fd.get());
                self.end_linger(&conn);
            }
        }
        if !self.ops.borrow().is_empty() {
            // Operations the kernel did not give back: their buffers must outlive the ring.
            self.bufs.leak.set(true);
            for op in self.ops.borrow_mut().drain() {
                std::mem::forget(op);
            }
        }
    }
}

/// A connection served by the io_uring driver: the socket's side of a `ConnState`.
pub(crate) struct Conn {
    state: Rc<ConnState>,
}

/// What a read found.
pub(crate) enum ReadOutcome<R> {
    Data(R),
    Eof,
}

impl Conn {
    pub(crate) fn new(fd: RawFd) -> Conn {
        Conn {
            state: Rc::new(ConnState {
                fd: Cell::new(fd),
                error: Cell::new(0),
                inbox: RefCell::new(Vec::new()),
                pos: Cell::new(0),
                recv: Cell::new(0),
                send: Cell::new(0),
                send_buf: RefCell::new(Vec::new()),
                send_off: Cell::new(0),
                send_error: Cell::new(0),
                send_progress: Cell::new(0),
                flags: Cell::new(0),
                reader: Waiter::default(),
                writer: Waiter::default(),
            }),
        }
    }

    /// Delivers at most `max` received bytes to `deliver`, or waits for some (arming the
    /// connection's receive if it is not armed).
    #[inline]
    pub(crate) fn poll_read<R>(
        &self,
        driver: &Uring,
        cx: &mut Context<'_>,
        max: usize,
        deliver: impl FnOnce(&[u8]) -> R,
    ) -> Poll<io::Result<ReadOutcome<R>>> {
        self.poll_inbox(driver, cx, |inbox, pos| {
            let end = pos + max.min(inbox.len() - pos);
            (deliver(&inbox[pos..end]), end)
        })
    }

    /// Appends at most `max` received bytes to `dst`. When `dst` is empty and the whole inbox
    /// fits, the two vectors trade places instead of copying (`read_buf` in a loop that clears
    /// its buffer pays no copy here).
    #[inline]
    pub(crate) fn poll_read_vec(
        &self,
        driver: &Uring,
        cx: &mut Context<'_>,
        dst: &mut Vec<u8>,
        max: usize,
    ) -> Poll<io::Result<ReadOutcome<usize>>> {
        self.poll_inbox(driver, cx, |inbox, pos| {
            if pos == 0 && dst.is_empty() && inbox.len() <= max {
                std::mem::swap(inbox, dst);
                (dst.len(), usize::MAX)
            } else {
                let end = pos + max.min(inbox.len() - pos);
                dst.extend_from_slice(&inbox[pos..end]);
                (end - pos, end)
            }
        })
    }

    /// Lets `take` consume from the inbox (it gets the inbox and the read position and returns
    /// its result and the new position), or reports end of stream or an error, or waits.
    #[inline]
    fn poll_inbox<R>(
        &self,
        driver: &Uring,
        cx: &mut Context<'_>,
        take: impl FnOnce(&mut Vec<u8>, usize) -> (R, usize),
    ) -> Poll<io::Result<ReadOutcome<R>>> {
        let s = &*self.state;
        let pos = s.pos.get();
        let taken = {
            let mut inbox = s.inbox.borrow_mut();
            if pos < inbox.len() {
                let (r, end) = take(&mut inbox, pos);
                if end >= inbox.len() {
                    inbox.clear();
                    if inbox.capacity() > INBOX_HIGH {
                        // A burst is over: an idle connection keeps no large buffer.
                        *inbox = Vec::new();
                    }
                    s.pos.set(0);
                } else {
                    s.pos.set(end);
                }
                Some(r)
            } else {
                None
            }
        };
        if let Some(r) = taken {
            if s.has(PAUSED) && s.recv_op().is_none() && !s.has(EOF) && s.error.get() == 0 {
                let unread = s.unread();
                if unread == 0 {
                    // The task caught up: stream again.
                    s.set(PAUSED, false);
                    driver.arm_recv(&self.state);
                } else if INBOX_HIGH.saturating_sub(unread) >= 4096 {
                    // The task read: open the window by what it took.
                    driver.arm_recv_once(&self.state, INBOX_HIGH - unread);
                }
            }
            return Poll::Ready(Ok(ReadOutcome::Data(r)));
        }
        let errno = s.error.replace(0);
        if errno != 0 {
            s.set(EOF, true);
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if s.has(EOF) {
            return Poll::Ready(Ok(ReadOutcome::Eof));
        }
        if s.recv_op().is_none() {
            // The task caught up: stream again.
            s.set(PAUSED, false);
            driver.arm_recv(&self.state);
        }
        s.reader.wait(cx.waker());
        Poll::Pending
    }

    /// Withdraws the reader's waker (its future is gone or timed out).
    pub(crate) fn cancel_read_wait(&self) {
        self.state.reader.cancel();
    }

    /// `write_owned`: once the previous send has ended (its failure, if any, is reported here),
    /// trades the vector in `buf` for the connection's (empty) send buffer and queues its send
    /// write-behind: no byte is copied, and the caller gets the previous buffer back.
    pub(crate) fn poll_write_owned(
        &self,
        driver: &Uring,
        cx: &mut Context<'_>,
        buf: &mut Option<Vec<u8>>,
    ) -> Poll<Result<(), i32>> {
        match self.poll_previous_send(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|()| Default::default())),
        }
        let s = &*self.state;
        if let Some(v) = buf.as_mut()
            && !v.is_empty()
        {
            std::mem::swap(&mut *s.send_buf.borrow_mut(), v);
            v.clear();
            driver.send_buffer(&self.state);
            s.set(BEHIND, true);
        }
        Poll::Ready(Ok(()))
    }

    /// Waits until no send is in flight, then reports the failure of the last one if it failed
    /// and nobody has heard of it yet (a write-behind send's error surfaces at the next write
    /// or flush).
    pub(crate) fn poll_previous_send(&self, cx: &mut Context<'_>) -> Poll<Result<(), i32>> {
        let s = &*self.state;
        if s.send_op().is_some() {
            s.writer.wait(cx.waker());
            return Poll::Pending;
        }
        match s.send_error.replace(0) {
            0 | libc::ECANCELED => Poll::Ready(Ok(())),
            errno => Poll::Ready(Err(errno)),
        }
    }

    /// Write-behind: once the previous send has ended (its failure, if any, is reported here),
    /// copies at most `SEND_CHUNK` bytes of `slices` into a driver buffer, queues their send
    /// and returns how many it took. The bytes count as written from then on: the send goes on
    /// whatever happens to the caller, and dropping the socket lets it finish.
    pub(crate) fn poll_write_behind(
        &self,
        driver: &Uring,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<Result<usize, i32>> {
        match self.poll_previous_send(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|()| Default::default())),
        }
        let s = &*self.state;
        let n = driver.start_send_vectored(&self.state, slices);
        s.set(BEHIND, true);
        Poll::Ready(Ok(n))
    }

    /// `shutdown_write` while write-behind bytes are in flight: returns true after arranging
    /// for the shutdown to follow them (at the send's last completion).
    pub(crate) fn defer_shutdown(&self) -> bool {
        let s = &*self.state;
        if s.send_op().is_some() && s.has(BEHIND) {
            s.set(SHUTDOWN_PENDING, true);
            true
        } else {
            false
        }
    }

    /// How often sends made partial progress so far.
    pub(crate) fn send_progress(&self) -> u32 {
        self.state.send_progress.get()
    }

    /// Withdraws the writer's waker.
    pub(crate) fn cancel_write_wait(&self) {
        self.state.writer.cancel();
    }

    /// The socket is being closed: cancel its operations. Called before the descriptor is
    /// closed; anything queued is submitted first, so no queued entry can reach a descriptor
    /// number that the kernel reuses.
    pub(crate) fn close(&self, driver: &Uring) {
        let s = &*self.state;
        let recv = s.recv_op();
        if recv.is_some() {
            // Completions already posted may hold bytes for this connection: into the inbox
            // with them, so the check below sees them.
            driver.reap();
        }
        s.set(CLOSED, true);
        let recv = s.recv_op();
        let send = s.send_op();
        if recv.is_some() || send.is_some() {
            driver.submit_now();
            if let Some(ud) = recv
                && !s.set(RECV_CANCELLED, true)
            {
                driver.cancel(ud);
            }
            if let Some(ud) = send {
                let fd = s.fd.get();
                // SAFETY: `fd` is the socket's open descriptor (closed by the caller after
                // this); F_DUPFD_CLOEXEC only duplicates it.
                let dup = if s.has(BEHIND) && !s.has(SEND_CANCELLED) {
                    unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) }
                } else {
                    -1
                };
                if dup >= 0 {
                    // Bytes the traits reported written: let them leave, on a duplicate
                    // descriptor the driver owns (the FIN follows them), while the peer takes them.
                    s.fd.set(dup);
                    s.set(LINGER, true);
                    driver.linger(&self.state, ud);
                } else {
                    // No duplicate (out of descriptors): the bytes in flight are lost with the
                    // descriptor, so the peer must see a reset.
                    s.set(SEND_CANCELLED, true);
                    driver.cancel(ud);
                    reset_on_close(fd);
                }
            }
            // Run the cancellations now, so the connection closes with the descriptor even if
            // the loop does not turn again; then handle what they completed, including bytes
            // the receive pulled from the socket before its cancellation landed.
            driver.submit_and_run();
            if recv.is_some() {
                driver.reap();
            }
        }
        if s.unread() > 0 || s.has(DISCARDED) {
            // Received bytes nobody read: the kernel answers a close with unread data with a
            // reset, and so does this driver (the bytes left the kernel for the driver, so the
            // kernel alone would send an orderly FIN). Like the kernel's, the reset also
            // discards what is still queued to send.
            reset_on_close(s.fd.get());
        }
        // Drop the wakers now: the state may outlive the socket until the cancellations land.
        let wakers = (s.reader.take(), s.writer.take());
        drop(wakers);
    }
}
