//! Write-behind bytes of dropped sockets, and the ring's teardown.

use super::*;

/// How long a dropped socket's write-behind bytes may wait for the peer to take any, by default,
/// before the connection is reset (`Builder::linger_timeout`).
pub(crate) const LINGER_STALL: Duration = Duration::from_secs(60);

impl Uring {
    /// Keeps a dropped socket's write-behind send going while the peer keeps taking bytes.
    pub(super) fn linger(&self, conn: &Rc<ConnState>, ud: u64) {
        self.lingering.borrow_mut().push(Lingering {
            conn: conn.clone(),
            ud,
            progress: conn.send_progress.get(),
            moved_at: Instant::now(),
        });
    }

    /// The lingering send of `conn` ended: close the driver's duplicate descriptor.
    pub(super) fn end_linger(&self, conn: &Rc<ConnState>) {
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
    pub(super) fn expire_lingering(&self, stall: Duration) {
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
}

impl Uring {
    /// One bounded wait for completions, then handles them (used while the loop is dropped).
    /// Returns false if the ring failed.
    pub(super) fn wait_and_reap(&self, at_most: Duration) -> bool {
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
        // Descriptors of dropped sockets whose `Close` is still queued.
        self.submit_now();
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
        // Cancel what is still in flight (datagram operations too) and reap it, so the kernel
        // lets go of our buffers. A cancelled send is final: a short completion is not continued.
        if self.len() > 0 {
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
            while self.len() > 0 && Instant::now() < deadline {
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
            std::mem::forget(self.connect_addrs.take());
        }
        if self.dgram.len() > 0 {
            // The same for datagram operations (a send's bytes, the datagrams' buffer group).
            self.dgram.leak();
        }
    }
}
