//! A UDP socket on the io_uring driver: the socket's side (what `driver::Datagram` calls) and
//! the state it shares with its operations in flight.
//!
//! Receives: one multishot `recvmsg` per socket feeds the socket's bounded queue
//! (dgram_queue.rs); a receive takes the oldest queued datagram, or waits. A receive that is
//! dropped or times out has taken nothing: the datagram stays queued for the next one.
//!
//! Sends: a send copies the caller's bytes (and the destination) into an operation the driver
//! owns until its completion, queued for the loop's next `io_uring_enter`; the future is ready
//! once the kernel has taken the datagram (the completion's result is its outcome, so every
//! error, `EMSGSIZE` or a refusal, is the send's own, as on epoll).

use std::net::SocketAddr;

use super::dgram_queue::DgramQueue;
use super::*;
use crate::driver::datagram::Received;

/// The largest UDP payload any socket can send (65,535 bytes of IP payload less the 8-byte
/// header, over IPv6; 65,507 over IPv4): a larger send is `EMSGSIZE` without copying it.
const MAX_PAYLOAD: usize = 65_527;

/// The state of one datagram socket, shared by its socket and by its operations in flight.
pub(crate) struct DgramState {
    pub(super) fd: RawFd,
    /// Datagrams received and not yet taken by the task.
    pub(super) queue: RefCell<DgramQueue>,
    /// The armed multishot receive and the send of the current send future (`user_data`,
    /// 0: none). A send whose future went away is cancelled and forgotten here.
    pub(super) recv: Cell<u64>,
    pub(super) send: Cell<u64>,
    /// The result of the current send future's operation, once it completed.
    pub(super) send_result: Cell<Option<i32>>,
    /// errno of the receive's error completion (an ICMP error on a connected socket:
    /// `ECONNREFUSED`), reported once by the next receive or send (0: none).
    pub(super) error: Cell<i32>,
    pub(super) flags: Cell<u8>,
    /// Operations of this socket in the driver's table.
    pub(super) in_flight: Cell<u32>,
    /// What the multishot receive asks for: the sender's address (room for an IPv6 one), no
    /// control data. The kernel reads it at submission; completions are parsed against it.
    pub(super) recv_hdr: libc::msghdr,
    /// A send's buffers kept for the next send (one allocation per socket, not per send).
    pub(super) spare: RefCell<Option<Box<SendBuf>>>,
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

/// A send in flight: the datagram's bytes, its destination and the `msghdr` pointing at them,
/// owned by the operation (boxed: the kernel has the addresses) until its completion.
pub(super) struct SendBuf {
    pub(super) bytes: Vec<u8>,
    pub(super) to: Option<socket2::SockAddr>,
    pub(super) iov: libc::iovec,
    pub(super) hdr: libc::msghdr,
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
            send: Cell::new(0),
            send_result: Cell::new(None),
            error: Cell::new(0),
            flags: Cell::new(0),
            in_flight: Cell::new(0),
            recv_hdr,
            spare: RefCell::new(None),
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

    /// Sends `buf` to `to` (`None`: the connected peer): queued at the first poll, ready with
    /// the kernel's verdict at its completion. A refusal the receive learnt of comes first.
    #[inline]
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: Option<SocketAddr>,
    ) -> Poll<io::Result<usize>> {
        let s = &*self.state;
        if let Some(res) = s.send_result.take() {
            return Poll::Ready(if res >= 0 {
                Ok(res as usize)
            } else {
                Err(io::Error::from_raw_os_error(errno_of(res)))
            });
        }
        if s.send.get() == 0 {
            let errno = s.error.replace(0);
            if errno != 0 {
                return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
            }
            if buf.len() > MAX_PAYLOAD {
                return Poll::Ready(Err(io::Error::from_raw_os_error(libc::EMSGSIZE)));
            }
            self.uring.start_dgram_send(&self.state, buf, to);
        }
        s.writer.wait(cx.waker());
        Poll::Pending
    }

    /// Withdraws the wait of `direction`. A receive's datagram stays queued; a send in flight
    /// is cancelled (if the kernel has not taken it yet, nothing is sent) and its result,
    /// whatever it is, belongs to nobody.
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        let s = &*self.state;
        match direction {
            Direction::Read => s.reader.cancel(),
            Direction::Write => {
                s.writer.cancel();
                s.send_result.set(None);
                let ud = s.send.replace(0);
                if ud != 0 {
                    self.uring.cancel(ud);
                }
            }
        }
    }
}

impl Drop for Datagram {
    /// Cancels the socket's operations; anything queued is submitted first, so no queued entry
    /// can reach a descriptor number the kernel hands out again once the caller closes it.
    fn drop(&mut self) {
        let s = &*self.state;
        s.set(D_CLOSED, true);
        if s.in_flight.get() > 0 {
            self.uring.submit_now();
            let recv = s.recv.get();
            if recv != 0 && !s.set(D_CANCELLED, true) {
                self.uring.cancel(recv);
            }
            let send = s.send.replace(0);
            if send != 0 {
                self.uring.cancel(send);
            }
            // Run the cancellations now, so the socket lets go of its port with the descriptor
            // even if the loop does not turn again.
            self.uring.submit_and_run();
        }
        let wakers = (s.reader.take(), s.writer.take());
        drop(wakers);
    }
}
