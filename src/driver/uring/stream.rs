//! A connection's socket-facing side on the io_uring driver.

use super::*;

/// A connection served by the io_uring driver: the socket's side of a `ConnState`. The socket
/// that owns it calls `close` when it is dropped (cancelling its operations, then closing its
/// descriptor on the ring).
pub(crate) struct Stream {
    core: Rc<Core>,
    uring: Rc<Uring>,
    state: Rc<ConnState>,
}

impl Stream {
    pub(crate) fn new(core: Rc<Core>, uring: Rc<Uring>, fd: RawFd) -> Stream {
        let state = uring.conn_state(fd);
        Stream::with_state(core, uring, state)
    }

    /// The socket side of a connection whose state exists already (a connect on the ring).
    pub(super) fn with_state(core: Rc<Core>, uring: Rc<Uring>, state: Rc<ConnState>) -> Stream {
        Stream { core, uring, state }
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Delivers at most `max` received bytes to `deliver`, or waits for some (arming the
    /// connection's receive if it is not armed).
    #[inline]
    pub(crate) fn poll_read<R>(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        deliver: impl FnOnce(&[u8]) -> R,
    ) -> Poll<io::Result<ReadOutcome<R>>> {
        self.poll_inbox(cx, |inbox, pos| {
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
        cx: &mut Context<'_>,
        dst: &mut Vec<u8>,
        max: usize,
    ) -> Poll<io::Result<ReadOutcome<usize>>> {
        self.poll_inbox(cx, |inbox, pos| {
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
                    self.uring.arm_recv(&self.state);
                } else if INBOX_HIGH.saturating_sub(unread) >= 4096 {
                    // The task read: open the window by what it took.
                    self.uring.arm_recv_once(&self.state, INBOX_HIGH - unread);
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
            self.uring.arm_recv(&self.state);
        }
        s.reader.wait(cx.waker());
        Poll::Pending
    }

    /// Queues `TCP_NODELAY` for the connection as a ring command (`SetSockOpt`), ahead of any
    /// send of it, so it applies from the first; `false` where the kernel has no such command
    /// (before Linux 6.7, or after a refusal). Its success completion is skipped; a failure
    /// turns the command off for later connections (the listener's option is best effort).
    pub(crate) fn set_nodelay_on_ring(&self) -> bool {
        /// The option's value; static, so it outlives the entry that points at it.
        static ON: libc::c_int = 1;
        if !self.uring.sockopt_on_ring.get() {
            return false;
        }
        let entry = opcode::SetSockOpt::new(
            types::Fd(self.state.fd.get()),
            libc::IPPROTO_TCP as u32,
            libc::TCP_NODELAY as u32,
            (&raw const ON).cast(),
            size_of::<libc::c_int>() as u32,
        )
        .build()
        .flags(squeue::Flags::SKIP_SUCCESS)
        .user_data(SOCKOPT_UD);
        self.uring.push(entry);
        self.state.set(SOCKOPT_QUEUED, true);
        true
    }

    /// Submits what the ring has queued if the listener's `SetSockOpt` for this connection may
    /// be among it, so that a socket option the caller sets next is not overridden by it. Only
    /// the first call after accept can pay a system call (and only for a listener with
    /// `nodelay`): a server that calls `set_nodelay` on every connection pays none.
    pub(crate) fn submit_queued(&self) {
        if self.state.set(SOCKOPT_QUEUED, false) {
            self.uring.submit_now();
        }
    }

    /// Withdraws the waker of `direction` (its operation is gone or timed out).
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        match direction {
            Direction::Read => self.state.reader.cancel(),
            Direction::Write => self.state.writer.cancel(),
        }
    }

    /// `write_owned`: once the previous send has ended (its failure, if any, is reported here),
    /// trades the vector in `buf` for the connection's (empty) send buffer and queues its send
    /// write-behind: no byte is copied, and the caller gets the previous buffer back.
    #[inline]
    pub(crate) fn poll_write_owned(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Option<Vec<u8>>,
    ) -> Poll<io::Result<()>> {
        match self.poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let s = &*self.state;
        if let Some(v) = buf.as_mut()
            && !v.is_empty()
        {
            std::mem::swap(&mut *s.send_buf.borrow_mut(), v);
            v.clear();
            self.uring.send_buffer(&self.state);
            s.set(BEHIND, true);
        }
        Poll::Ready(Ok(()))
    }

    /// Waits until no send is in flight, then reports the failure of the last one if it failed
    /// and nobody has heard of it yet (a write-behind send's error surfaces at the next write
    /// or flush).
    #[inline]
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = &*self.state;
        if s.send_op().is_some() {
            s.writer.wait(cx.waker());
            return Poll::Pending;
        }
        match s.send_error.replace(0) {
            0 | libc::ECANCELED => Poll::Ready(Ok(())),
            errno => Poll::Ready(Err(io::Error::from_raw_os_error(errno))),
        }
    }

    /// Write-behind: once the previous send has ended (its failure, if any, is reported here),
    /// copies at most `SEND_CHUNK` bytes of `slices` into a driver buffer, queues their send
    /// and returns how many it took. The bytes count as written from then on: the send goes on
    /// whatever happens to the caller, and dropping the socket lets it finish.
    #[inline]
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let s = &*self.state;
        let n = self.uring.start_send_vectored(&self.state, slices);
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

    /// The socket is dropped: cancels its operations, then closes `fd` (the socket's
    /// descriptor, given up by its owner) by a `Close` entry queued after them. Entries run in
    /// the order they are queued and every operation holds its socket's file from then on, so
    /// no entry of this connection can reach the number once the kernel hands it out again.
    pub(crate) fn close(&self, fd: RawFd) {
        let s = &*self.state;
        let recv = s.recv_op();
        if recv.is_some() {
            // Completions already posted may hold bytes for this connection: into the inbox
            // with them, so the check below sees them.
            self.uring.reap();
        }
        s.set(CLOSED, true);
        let recv = s.recv_op();
        let send = s.send_op();
        if send.is_none() {
            // A send in flight takes its slot out of the table when it ends.
            self.uring.free_send_slot(s);
        }
        if recv.is_some() || send.is_some() {
            self.uring.submit_now();
            if let Some(ud) = recv
                && !s.set(RECV_CANCELLED, true)
            {
                self.uring.cancel(ud);
            }
            if let Some(ud) = send {
                // SAFETY: `fd` is the socket's open descriptor (closed on the ring after
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
                    self.uring.linger(&self.state, ud);
                } else {
                    // No duplicate (out of descriptors): the bytes in flight are lost with the
                    // descriptor, so the peer must see a reset.
                    s.set(SEND_CANCELLED, true);
                    self.uring.cancel(ud);
                    reset_on_close(fd);
                }
            }
            // Run the cancellations now, so the connection closes with the descriptor even if
            // the loop does not turn again; then handle what they completed, including bytes
            // the receive pulled from the socket before its cancellation landed.
            self.uring.submit_and_run();
            if recv.is_some() {
                self.uring.reap();
            }
        }
        if s.unread() > 0 || s.has(DISCARDED) {
            // Received bytes nobody read: the kernel answers a close with unread data with a
            // reset, and so does this driver (the bytes left the kernel for the driver, so the
            // kernel alone would send an orderly FIN). Like the kernel's, the reset also
            // discards what is still queued to send.
            // On `fd`, open until the `Close` below: `s.fd` is -1 if a lingering send ended
            // during the cancellations above (its duplicate closed).
            reset_on_close(fd);
        }
        // Drop the wakers now: the state may outlive the socket until the cancellations land.
        s.reader.clear();
        s.writer.clear();
        self.uring.release_file(s);
        self.uring.close_fd(fd);
        self.uring.spare_state(&self.state);
    }
}

/// Copies `src` into `dst` (of the same length), initialising it: one `memcpy`
/// (`<[MaybeUninit<u8>]>::write_copy_of_slice` from Rust 1.93, above the crate's MSRV).
pub(crate) fn copy_to_uninit(dst: &mut [std::mem::MaybeUninit<u8>], src: &[u8]) {
    assert_eq!(dst.len(), src.len());
    // SAFETY: both are valid for `src.len()` bytes (the lengths are equal), a `&mut` slice
    // cannot overlap a `&` one, and `MaybeUninit<u8>` has `u8`'s layout; writing initialises.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len());
    }
}
