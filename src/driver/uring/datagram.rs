//! A UDP socket on the io_uring driver: the socket's side (what `driver::Datagram` calls) and
//! the state it shares with its operations in flight.
//!
//! Receives: one multishot `recvmsg` per socket feeds the socket's bounded queue
//! (dgram_queue.rs); a receive takes the oldest queued datagram, or waits. A receive that is
//! dropped or times out has taken nothing: the datagram stays queued for the next one.
//!
//! Sends: a send copies the caller's bytes (and the destination) into an operation the driver
//! owns until its completion, queued for the loop's next `io_uring_enter`, and is done: the
//! task goes on to its next datagram and a turn's sends reach the kernel together, as a
//! hand-written loop's do (waiting for each send's completion costs a loop turn per
//! datagram: 1.35x the hand-written loop's CPU in the UDP echo benchmark). At most
//! `SEND_WINDOW` datagrams (`SEND_WINDOW_BYTES`) are in flight per socket; past that a send
//! waits for room. What can be known before the kernel sees the datagram is reported by the
//! send itself (too large for UDP); an error the kernel reports for a queued datagram (a
//! refused peer, an unreachable network) is kept and returned by the socket's next send,
//! naming that datagram's destination where it is not the next send's.

use std::net::SocketAddr;

use super::dgram_queue::DgramQueue;
use super::*;
use crate::driver::datagram::Received;

/// The largest UDP payload any socket can send (65,535 bytes of IP payload less the 8-byte
/// header, over IPv6; 65,507 over IPv4): a larger send is `EMSGSIZE` without copying it.
const MAX_PAYLOAD: usize = 65_527;
/// The same over IPv4 (an IPv4 or IPv4-mapped destination).
const MAX_PAYLOAD_V4: usize = 65_507;
/// The most sends in flight per socket (queued or in the kernel), and their most bytes (one
/// datagram of any size is always let through).
pub(super) const SEND_WINDOW: u32 = 64;
pub(super) const SEND_WINDOW_BYTES: usize = 256 * 1024;

/// The state of one datagram socket, shared by its socket and by its operations in flight.
pub(crate) struct DgramState {
    pub(super) fd: RawFd,
    /// Datagrams received and not yet taken by the task.
    pub(super) queue: RefCell<DgramQueue>,
    /// The armed multishot receive (`user_data`, 0: none).
    pub(super) recv: Cell<u64>,
    /// Sends in flight and the bytes they hold.
    pub(super) sends: Cell<u32>,
    pub(super) send_bytes: Cell<usize>,
    /// The first error the kernel reported for a send already done, with its destination
    /// (`None`: the connected peer), returned by the next send.
    pub(super) send_error: Cell<Option<(i32, Option<SocketAddr>)>>,
    /// errno of the receive's error completion (an ICMP error on a connected socket:
    /// `ECONNREFUSED`), reported once by the next receive or send (0: none).
    pub(super) error: Cell<i32>,
    pub(super) flags: Cell<u8>,
    /// Operations of this socket in the driver's table.
    pub(super) in_flight: Cell<u32>,
    /// What the multishot receive asks for: the sender's address (room for an IPv6 one), no
    /// control data. The kernel reads it at submission; completions are parsed against it.
    pub(super) recv_hdr: libc::msghdr,
    /// Buffers of completed sends kept for the next ones (no allocation per send; boxed as
    /// the operations hold them, so a spare moves in and out without an allocation).
    #[allow(clippy::vec_box)]
    pub(super) spares: RefCell<Vec<Box<SendBuf>>>,
    /// What the spares hold, in bytes (their buffers' capacity and boxes).
    pub(super) spare_bytes: Cell<usize>,
    pub(super) reader: Waiter,
    pub(super) writer: Waiter,
}

/// `DgramState::flags`: the socket was dropped (completions are reaped, nothing restarts).
pub(super) const D_CLOSED: u8 = 1;
/// The receive's cancellation was requested.
pub(super) const D_CANCELLED: u8 = 2;
/// The queue went over its bound: the receive was cancelled and is re-armed once the task
/// has taken half of the queue.
pub(super) const D_PAUSED: u8 = 4;

/// A send in flight: the datagram's bytes and its destination, owned by the operation (boxed:
/// the kernel has the destination's address) until its completion.
pub(super) struct SendBuf {
    pub(super) bytes: Vec<u8>,
    pub(super) to: Option<SocketAddr>,
    pub(super) raw_to: Option<socket2::SockAddr>,
}

impl DgramState {
    pub(super) fn new(fd: RawFd) -> DgramState {
        // SAFETY: `msghdr` is plain data (integers and pointers): all zeroes is a valid value
        // (null pointers, no iovecs, no control data).
        let mut recv_hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        recv_hdr.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        DgramState {
            fd,
            queue: RefCell::new(DgramQueue::default()),
            recv: Cell::new(0),
            sends: Cell::new(0),
            send_bytes: Cell::new(0),
            send_error: Cell::new(None),
            error: Cell::new(0),
            flags: Cell::new(0),
            in_flight: Cell::new(0),
            recv_hdr,
            spares: RefCell::new(Vec::new()),
            spare_bytes: Cell::new(0),
            reader: Waiter::default(),
            writer: Waiter::default(),
        }
    }

    #[inline]
    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags.get() & flag != 0
    }

    /// Sets or clears `flag`; returns whether it was set before.
    #[inline]
    pub(super) fn set(&self, flag: u8, on: bool) -> bool {
        let old = self.flags.get();
        self.flags.set(if on { old | flag } else { old & !flag });
        old & flag != 0
    }
}

/// A UDP socket served by the io_uring driver. Dropping it cancels its operations before the
/// descriptor closes.
pub(crate) struct Datagram {
    core: Rc<Core>,
    uring: Rc<Uring>,
    state: Rc<DgramState>,
}

impl Datagram {
    /// The socket `fd` on `uring`'s loop; the loop's datagram buffer group is set up with its
    /// first datagram socket.
    pub(crate) fn new(core: Rc<Core>, uring: Rc<Uring>, fd: RawFd) -> io::Result<Datagram> {
        uring.dgram_group()?;
        Ok(Datagram {
            core,
            uring,
            state: Rc::new(DgramState::new(fd)),
        })
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Takes the oldest queued datagram into `buf` (its full length says whether it fit), or
    /// reports the receive's error, or waits (arming the multishot receive if it is not armed).
    #[inline]
    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Received>> {
        let s = &*self.state;
        if let Some(got) = self.uring.take_datagram(&self.state, buf) {
            return Poll::Ready(Ok(got));
        }
        let errno = s.error.replace(0);
        if errno != 0 {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if s.recv.get() == 0 {
            s.set(D_PAUSED, false);
            self.uring.arm_dgram_recv(&self.state);
        }
        s.reader.wait(cx.waker());
        Poll::Pending
    }

    /// Sends `buf` to `to` (`None`: the connected peer): done once queued for the loop's next
    /// `io_uring_enter` (waiting only for room in the socket's send window). A refusal the
    /// receive learnt of, or an error of an earlier send, comes first.
    #[inline]
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: Option<SocketAddr>,
    ) -> Poll<io::Result<usize>> {
        let s = &*self.state;
        if let Some((errno, failed_to)) = s.send_error.take() {
            return Poll::Ready(Err(earlier_send_error(errno, failed_to, to)));
        }
        let errno = s.error.replace(0);
        if errno != 0 {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        if buf.len() > MAX_PAYLOAD_V4 && buf.len() > self.max_payload(to) {
            return Poll::Ready(Err(io::Error::from_raw_os_error(libc::EMSGSIZE)));
        }
        let (sends, bytes) = (s.sends.get(), s.send_bytes.get());
        if sends > 0 && (sends >= SEND_WINDOW || bytes + buf.len() > SEND_WINDOW_BYTES) {
            s.writer.wait(cx.waker());
            return Poll::Pending;
        }
        self.uring.start_dgram_send(&self.state, buf, to);
        Poll::Ready(Ok(buf.len()))
    }

    /// The largest payload UDP carries to `to` (`None`: the connected peer, asked of the
    /// kernel: only for datagrams over IPv4's limit).
    fn max_payload(&self, to: Option<SocketAddr>) -> usize {
        let to = to.or_else(|| {
            // SAFETY: the descriptor stays open as long as this socket (it closes after the
            // socket is dropped).
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.state.fd) };
            socket2::SockRef::from(&fd).peer_addr().ok()?.as_socket()
        });
        match to {
            Some(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_none() => MAX_PAYLOAD,
            Some(_) => MAX_PAYLOAD_V4,
            None => MAX_PAYLOAD,
        }
    }

    /// Withdraws the wait of `direction`. A receive's datagram stays queued; a send waiting
    /// for room has queued nothing (sends already done stay queued: they were reported sent).
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        let s = &*self.state;
        match direction {
            Direction::Read => s.reader.cancel(),
            Direction::Write => s.writer.cancel(),
        }
    }
}

impl Drop for Datagram {
    /// Cancels the socket's receive; anything queued is submitted first (its sends, done from
    /// the task's view, reach the kernel, which holds the socket open until they complete), so
    /// no queued entry can reach a descriptor number the kernel hands out again once the
    /// caller closes it.
    fn drop(&mut self) {
        let s = &*self.state;
        s.set(D_CLOSED, true);
        if s.in_flight.get() > 0 {
            self.uring.submit_now();
            let recv = s.recv.get();
            if recv != 0 && !s.set(D_CANCELLED, true) {
                self.uring.cancel(recv);
            }
            // Run the cancellations now, so the socket lets go of its port with the descriptor
            // even if the loop does not turn again.
            self.uring.submit_and_run();
        }
        let wakers = (s.reader.take(), s.writer.take());
        drop(wakers);
    }
}

/// The error of an earlier send (`errno`, to `failed_to`) as the next send (to `to`) reports
/// it: the OS error itself where both went to the same place, else an error that names the
/// earlier datagram's destination (of the same kind, the OS error as its source, so
/// `SocketError::raw_os_error` still gives the errno).
fn earlier_send_error(
    errno: i32,
    failed_to: Option<SocketAddr>,
    to: Option<SocketAddr>,
) -> io::Error {
    let source = io::Error::from_raw_os_error(errno);
    match failed_to {
        Some(addr) if failed_to != to => {
            io::Error::new(source.kind(), EarlierSendFailed { to: addr, source })
        }
        _ => source,
    }
}

/// An earlier datagram, to `to`, failed with `source`.
#[derive(Debug)]
struct EarlierSendFailed {
    to: SocketAddr,
    source: io::Error,
}

impl std::fmt::Display for EarlierSendFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an earlier datagram to {} failed: {}",
            self.to, self.source
        )
    }
}

impl std::error::Error for EarlierSendFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
