//! Completion handling: what each operation's completion means for its connection.

use super::*;

impl Uring {
    pub(super) fn complete(&self, ud: u64, res: i32, flags: u32) {
        if ud == CANCEL_UD || ud == CLOSE_UD {
            return;
        }
        if ud == FILES_UD {
            return self.files_update_failed(res);
        }
        if ud == SOCKOPT_UD {
            // The command failed (a kernel or a socket without it): later connections use
            // `setsockopt`; this one goes without (best effort).
            self.sockopt_on_ring.set(false);
            return;
        }
        if ud == EPOLL_UD {
            self.epoll_ready.set(true);
            if !cqueue::more(flags) {
                self.epoll_armed.set(false);
            }
            return;
        }
        // Accepts have a zero upper half (no table entry has generation 0), datagram operations
        // bit 31 of the lower half.
        if ud >> 32 == 0 {
            return self.complete_accept(ud, res, flags);
        }
        if ud as u32 & DGRAM_TAG != 0 {
            return self.complete_datagram(ud, res, flags);
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
        match op.kind {
            OpKind::Recv { capped } => {
                let more = cqueue::more(flags);
                if !more {
                    ops.remove(index);
                    conn.set_recv_op(None);
                }
                drop(ops);
                self.complete_recv(&conn, ud, res, flags, capped);
            }
            OpKind::Send => {
                drop(ops);
                self.complete_send(&conn, index, ud, res);
            }
            OpKind::Connect => {
                drop(ops);
                self.complete_connect(&conn, index, ud, res);
            }
        }
    }

    /// A completion of the connection's receive: its bytes into the inbox (or discarded, and
    /// remembered, once the socket is gone), then what its result means: bytes (pause above
    /// the inbox limit), end of stream, buffers run dry or the cap refused (receive again), or
    /// an error for the reader.
    fn complete_recv(&self, conn: &Rc<ConnState>, ud: u64, res: i32, flags: u32, capped: bool) {
        let more = cqueue::more(flags);
        if let Some(bid) = cqueue::buffer_select(flags) {
            let len = res.max(0) as usize;
            self.bufs
                .take(bid, len, cqueue::buffer_more(flags), |bytes| {
                    if !conn.has(CLOSED) {
                        let mut inbox = conn.inbox.borrow_mut();
                        if inbox.capacity() == 0 {
                            // The first bytes of an empty inbox (every message of a `read_buf`
                            // loop, which trades the inbox away): a closed connection's buffer,
                            // or one exact allocation, without `extend`'s growth path.
                            *inbox = self.first_bytes(bytes);
                        } else {
                            inbox.extend_from_slice(bytes);
                        }
                    } else if !bytes.is_empty() {
                        conn.set(DISCARDED, true);
                    }
                });
        }
        if res > 0 {
            if more && !conn.has(RECV_CANCELLED) && conn.unread() > INBOX_HIGH {
                conn.set(RECV_CANCELLED, true);
                conn.set(PAUSED, true);
                self.cancel(ud);
            }
        } else if res == 0 {
            conn.set(EOF, true);
        } else if res == -libc::ENOBUFS || (res == -libc::EINVAL && capped) {
            if res == -libc::EINVAL {
                // A kernel before 6.17: no total cap on multishot receives. The inbox limit
                // then relies on cancelling the receive (`PAUSED`).
                self.recv_cap.set(false);
            }
            // The buffer ring ran dry (they are all back now): receive again.
            if !more && !conn.has(CLOSED) && !conn.has(RECV_CANCELLED) {
                if conn.has(PAUSED) {
                    let room = INBOX_HIGH.saturating_sub(conn.unread()).max(4096);
                    self.arm_recv_once(conn, room);
                } else {
                    self.arm_recv(conn);
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

    /// A completion of the connection's send: continue a short send, or end it (reporting its
    /// failure to the next write, following it with a deferred shutdown, ending a linger).
    pub(super) fn complete_send(&self, conn: &Rc<ConnState>, index: usize, ud: u64, res: i32) {
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
        if conn.has(CLOSED) {
            // Nobody sends on it again: the slot leaves the table (and lets the state go).
            self.ops.borrow_mut().remove(index);
            conn.send_slot.set(0);
        } else {
            // Kept for the connection's next send.
            self.idle_sends.set(self.idle_sends.get() + 1);
        }
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
pub(super) fn hand_over_or_reset(conn: &ConnState) {
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
pub(super) fn reset_on_close(fd: RawFd) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// A ring and a connection on one end of a socket pair, or `None` where io_uring is refused.
    fn setup() -> Option<(
        Reactor,
        Uring,
        std::os::unix::net::UnixStream,
        Rc<ConnState>,
    )> {
        let reactor = Reactor::new().unwrap();
        let uring = Uring::new(reactor.raw_fd(), Duration::from_secs(1)).ok()?;
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let conn = Rc::new(ConnState::new(a.as_raw_fd()));
        Some((reactor, uring, a, conn))
    }

    #[test]
    fn a_short_send_continues_from_where_it_stopped_then_ends() {
        let Some((_reactor, uring, _a, conn)) = setup() else {
            return;
        };
        conn.send_buf.borrow_mut().extend_from_slice(b"hello world");
        uring.send_buffer(&conn);
        let ud = conn.send_op().unwrap();
        uring.complete(ud, 5, 0);
        assert_eq!(conn.send_off.get(), 5);
        assert_eq!(conn.send_progress.get(), 1, "partial progress is counted");
        assert_eq!(conn.send_op(), Some(ud), "the same operation goes on");
        uring.complete(ud, 6, 0);
        assert_eq!(conn.send_op(), None);
        assert_eq!(conn.send_error.get(), 0);
    }

    #[test]
    fn a_connections_send_slot_is_kept_between_sends_and_freed_after_close() {
        let Some((_reactor, uring, _a, conn)) = setup() else {
            return;
        };
        let send = |bytes: &[u8]| {
            *conn.send_buf.borrow_mut() = bytes.to_vec();
            uring.send_buffer(&conn);
            conn.send_op().unwrap()
        };
        let first = send(b"one");
        assert_eq!(uring.len(), 1, "a send in flight");
        uring.complete(first, 3, 0);
        assert_eq!(
            (uring.len(), uring.ops.borrow().len()),
            (0, 1),
            "no operation in flight; the slot is kept"
        );
        let second = send(b"two");
        assert_eq!(second, first, "the next send takes the same slot");
        // Closed with a send in flight: its last completion frees the slot and the state.
        conn.set(CLOSED, true);
        uring.complete(second, 3, 0);
        assert_eq!((uring.len(), uring.ops.borrow().len()), (0, 0));
        assert_eq!(conn.send_slot.get(), 0);
        assert_eq!(Rc::strong_count(&conn), 1, "the table let the state go");
        // Closed with no send in flight: the close frees it.
        conn.set(CLOSED, false);
        send(b"three");
        uring.complete(conn.send_op().unwrap(), 5, 0);
        assert_eq!(uring.ops.borrow().len(), 1);
        uring.free_send_slot(&conn);
        assert_eq!((uring.len(), uring.ops.borrow().len()), (0, 0));
        assert_eq!(Rc::strong_count(&conn), 1);
    }

    #[test]
    fn a_send_that_takes_nothing_is_an_error_never_a_short_success() {
        let Some((_reactor, uring, _a, conn)) = setup() else {
            return;
        };
        conn.send_buf.borrow_mut().extend_from_slice(b"hello");
        uring.send_buffer(&conn);
        uring.complete(conn.send_op().unwrap(), 0, 0);
        assert_eq!(conn.send_error.get(), libc::EPIPE);
    }

    #[test]
    fn an_ended_multishot_receive_is_rearmed_when_the_buffers_ran_dry() {
        let Some((_reactor, uring, _a, conn)) = setup() else {
            return;
        };
        uring.arm_recv(&conn);
        let first = conn.recv_op().unwrap();
        // No IORING_CQE_F_MORE: the receive ended.
        uring.complete(first, -libc::ENOBUFS, 0);
        let again = conn.recv_op().expect("receiving again");
        assert_ne!(again, first);
        assert!(!conn.has(EOF) && conn.error.get() == 0);
        // End of stream: the receive ends for good.
        uring.complete(again, 0, 0);
        assert!(conn.has(EOF));
        assert_eq!(conn.recv_op(), None);
    }

    #[test]
    fn a_kernel_without_the_receive_cap_turns_it_off_and_receives_uncapped() {
        let Some((_reactor, uring, _a, conn)) = setup() else {
            return;
        };
        uring.recv_cap.set(true);
        uring.arm_recv(&conn);
        let first = conn.recv_op().unwrap();
        uring.complete(first, -libc::EINVAL, 0);
        assert!(!uring.recv_cap.get());
        assert!(conn.recv_op().is_some_and(|ud| ud != first));
        assert_eq!(conn.error.get(), 0, "the refusal is not the reader's error");
    }
}
