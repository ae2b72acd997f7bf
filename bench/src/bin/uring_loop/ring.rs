//! What `uring_loop`'s loops and `uring_tasks` share: the ring, its provided receive buffers,
//! the submission side, a socket as a direct descriptor or an fd, and the TCP listener.
use io_uring::{squeue, types, IoUring, SubmissionQueue, Submitter};
use std::alloc::{self, Layout};
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};

const SQ_ENTRIES: u32 = 1024;
const CQ_ENTRIES: u32 = 8192;

/// The ring both loops use: `SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN`, 1024 SQ / 8192 CQ.
pub fn new_ring() -> IoUring {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_coop_taskrun()
        .setup_cqsize(CQ_ENTRIES)
        .build(SQ_ENTRIES)
        .expect("io_uring setup")
}

/// The buffer group of the provided receive buffers.
pub const BGID: u16 = 0;
/// `IOU_PBUF_RING_INC` from the kernel's uapi.
const IOU_PBUF_RING_INC: u16 = 2;
/// Incremental buffer ring: 32 buffers of 64 KiB; fallback: 1024 buffers of 4 KiB.
const INC_COUNT: u16 = 32;
const INC_SIZE: usize = 64 * 1024;
const PAGE_COUNT: u16 = 1024;
const PAGE_SIZE: usize = 4096;

/// The ring of provided receive buffers. Lives for the whole process (the server runs until
/// killed), so its memory is never freed.
pub struct BufRing {
    entries: *mut types::BufRingEntry,
    data: *mut u8,
    count: u16,
    size: usize,
    incremental: bool,
    /// Incremental mode: how much of each buffer the kernel has filled so far.
    used: Vec<u32>,
    tail: u16,
}

impl BufRing {
    /// Allocates and registers the ring: incremental if the kernel takes it, else page buffers.
    pub fn new(sub: &Submitter) -> BufRing {
        match Self::try_new(sub, INC_COUNT, INC_SIZE, true) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("uring_loop: incremental buffer ring unavailable ({e}); using {PAGE_COUNT} x {PAGE_SIZE} B");
                Self::try_new(sub, PAGE_COUNT, PAGE_SIZE, false).expect("register buffer ring")
            }
        }
    }

    pub fn try_new(sub: &Submitter, count: u16, size: usize, incremental: bool) -> io::Result<BufRing> {
        let entries_layout = Layout::from_size_align(count as usize * size_of::<types::BufRingEntry>(), 4096).unwrap();
        let data_layout = Layout::from_size_align(count as usize * size, 4096).unwrap();
        // SAFETY: both layouts have a non-zero size. The memory is never freed (a failed
        // registration leaks it; this happens at most once, at start-up).
        let (entries, data) = unsafe { (alloc::alloc_zeroed(entries_layout).cast::<types::BufRingEntry>(), alloc::alloc(data_layout)) };
        assert!(!entries.is_null() && !data.is_null(), "out of memory");
        let mut ring = BufRing { entries, data, count, size, incremental, used: vec![0; count as usize], tail: 0 };
        for bid in 0..count {
            ring.push(bid);
        }
        ring.publish();
        let flags = if incremental { IOU_PBUF_RING_INC } else { 0 };
        // SAFETY: the ring memory is page-aligned, holds `count` (a power of two) initialised
        // entries, and is never freed, so it stays valid as long as the io_uring exists.
        unsafe { sub.register_buf_ring_with_flags(entries as u64, count, BGID, flags)? };
        Ok(ring)
    }

    /// Hands buffer `bid` back to the kernel, whole (visible after `publish`).
    pub fn push(&mut self, bid: u16) {
        let index = (self.tail & (self.count - 1)) as usize;
        // SAFETY: `index` < count, inside the entries allocation. The slot lies past the
        // kernel's view (it reads only entries between its head and the published tail), and
        // with single issuer + deferred task work the kernel touches the ring only inside our
        // own system calls. The setters leave entry 0's `resv` (the tail) alone.
        unsafe {
            let e = &mut *self.entries.add(index);
            e.set_addr(self.data.add(bid as usize * self.size) as u64);
            e.set_len(self.size as u32);
            e.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the tail: the kernel may use every buffer pushed so far.
    pub fn publish(&self) {
        // SAFETY: `entries` is the page-aligned base of the ring, as `tail` requires; the tail
        // is a u16 the kernel reads atomically (acquire), so a release store orders the entries.
        unsafe {
            let tail = types::BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// The first `len` bytes of buffer `bid` (whole-buffer mode), which a completion filled.
    /// The caller must not push the buffer back while it uses the slice, nor while an
    /// operation it started reads from it.
    pub fn filled(&self, bid: u16, len: usize) -> &[u8] {
        assert!(!self.incremental && bid < self.count);
        // SAFETY: the range lies inside buffer `bid` of the data allocation (never freed). The
        // kernel wrote it before posting the completion and does not write it again until the
        // buffer is pushed back, which the caller does only when done with it.
        unsafe { std::slice::from_raw_parts(self.data.add(bid as usize * self.size), len.min(self.size)) }
    }

    /// Passes the `len` bytes a completion delivered in buffer `bid` to `f`, then gives the
    /// buffer back unless the kernel keeps filling it (`more`: incremental mode, BUF_MORE).
    pub fn take(&mut self, bid: u16, len: usize, more: bool, f: impl FnOnce(&[u8])) {
        let bid = bid & (self.count - 1);
        let start = if self.incremental {
            let used = &mut self.used[bid as usize];
            let start = *used as usize;
            *used = if more { (start + len) as u32 } else { 0 };
            start
        } else {
            0
        };
        let start = start.min(self.size);
        let len = len.min(self.size - start);
        // SAFETY: the range lies inside buffer `bid` of the data allocation. The kernel wrote it
        // before posting the completion being handled and does not write it again before the
        // buffer is pushed back (after `f` returns); in incremental mode it writes only past
        // `start + len`.
        f(unsafe { std::slice::from_raw_parts(self.data.add(bid as usize * self.size + start), len) });
        if !more || !self.incremental {
            self.push(bid);
        }
    }
}

/// The submission side: the queue and the submitter (which remembers the registered ring fd).
pub struct Sq<'a> {
    pub sub: Submitter<'a>,
    pub sq: SubmissionQueue<'a>,
}

impl Sq<'_> {
    /// Submits everything queued and waits for at least one completion: the loop's one
    /// `io_uring_enter` per turn.
    pub fn submit_and_wait(&mut self) {
        self.sq.sync();
        match self.sub.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)) => {}
            Err(e) => panic!("io_uring_enter: {e}"),
        }
    }

    /// Queues `e`; if the queue is full, first submits what is queued.
    ///
    /// # Safety
    /// Every buffer `e` points at must stay valid until its operation completes.
    pub unsafe fn push(&mut self, e: &squeue::Entry) {
        // SAFETY: forwarded from the caller.
        while unsafe { self.sq.push(e) }.is_err() {
            self.sq.sync();
            match self.sub.submit() {
                Ok(_) => {}
                Err(err) if matches!(err.raw_os_error(), Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)) => {}
                Err(err) => panic!("io_uring_enter: {err}"),
            }
            self.sq.sync();
        }
    }
}

/// A connection's socket: a direct descriptor (slot in the fixed file table) or, with
/// `--plain`, a regular fd.
#[derive(Clone, Copy)]
pub enum Sock {
    Fixed(u32),
    Fd(i32),
}

/// Builds an SQE with the socket as `types::Fixed` or `types::Fd` (the crate's fd argument is
/// generic over both).
macro_rules! on_sock {
    ($sock:expr, |$t:ident| $body:expr) => {
        match $sock {
            $crate::ring::Sock::Fixed(i) => {
                let $t = ::io_uring::types::Fixed(i);
                $body
            }
            $crate::ring::Sock::Fd(fd) => {
                let $t = ::io_uring::types::Fd(fd);
                $body
            }
        }
    };
}

pub(crate) use on_sock;

/// A blocking TCP listener on `addr` (io_uring's accept polls by itself). mio binds it, with
/// SO_REUSEADDR and a 1024 backlog, like the other servers. A previous io_uring server's
/// listener can outlive its process for a few milliseconds (the kernel tears the ring, and with
/// it the multishot accept's file reference, down asynchronously), so a quick restart on the
/// same port retries for a while.
pub fn bind_tcp(addr: std::net::SocketAddr) -> OwnedFd {
    let mut tries = 0;
    let listener = loop {
        match mio::net::TcpListener::bind(addr) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => break r.expect("bind"),
        }
    };
    // SAFETY: the fd comes from `into_raw_fd`, so this is its only owner.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(listener.into_raw_fd()) };
    listener.set_nonblocking(false).expect("set_nonblocking");
    listener.into()
}
