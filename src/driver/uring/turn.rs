//! The ring's side of the loop's wait: a turn submits what the tasks queued, waits for
//! completions (or the reactor's descriptor, or the timeout), and reaps them; a few paths
//! submit at once.

use super::*;

impl Uring {
    /// Submits what is queued now (used before a descriptor with queued entries is closed, so
    /// that no entry can reach a descriptor number the kernel hands out again).
    pub(super) fn submit_now(&self) {
        // Whatever completes inline is posted now: a reap under way looks again, and does not
        // take an accept's address buffer as its batch's (accept.rs).
        self.entered.set(true);
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
    pub(super) fn submit_and_run(&self) {
        self.entered.set(true);
        let mut ring = self.ring.borrow_mut();
        let queued = ring.submission().len() as u32;
        let flags = io_uring::EnterFlags::GETEVENTS.bits();
        // SAFETY: no argument is passed; `queued` entries are initialised in the queue.
        let _ = unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(queued, 0, flags, None)
        };
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
                // What `submit_and_wait(1)` does on this ring (no SQPOLL, no IOPOLL: always one
                // enter with GETEVENTS), without its checks, with the count taken above.
                // SAFETY: no argument is passed; `pending` entries are initialised in the queue.
                None => unsafe {
                    ring.submitter().enter::<libc::sigset_t>(
                        pending as u32,
                        1,
                        io_uring::EnterFlags::GETEVENTS.bits(),
                        None,
                    )
                },
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
        if self.files.any_released() && self.ring.borrow_mut().submission().is_empty() {
            // Every slot given back has had its `Close` submitted (fixed_files.rs).
            self.files.recycle();
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
    /// full submission queue in `push`, a submission before a close): then it looks again.
    ///
    /// A batch is the completions in the queue when it is looked at; they are taken one at a
    /// time, straight from the queue (no copy), without holding the ring across a handler, and
    /// the batch ends after that many even if an enter meanwhile posted more (accept.rs: those
    /// belong to the next batch).
    pub(super) fn reap(&self) {
        let nested = self.reaping.replace(true);
        if nested {
            self.give_up_batch_addresses();
        }
        self.reap_all();
        self.reaping.set(nested);
    }

    /// `reap`'s passes, one batch each, until a pass entered nothing.
    fn reap_all(&self) {
        loop {
            self.entered.set(false);
            let (count, overflow) = {
                let mut ring = self.ring.borrow_mut();
                let cq = ring.completion();
                // Completions the kernel could not even keep in its overflow list (out of
                // memory) are counted, not flagged: any change also distrusts this batch.
                let dropped = cq.overflow();
                let count = cq.len();
                drop(cq);
                let lost = dropped != self.cq_dropped.replace(dropped);
                (count, ring.submission().cq_overflow() || lost)
            };
            if count == 0 {
                break;
            }
            self.reap_batch.set(self.reap_batch.get() + 1);
            self.reap_overflow.set(overflow);
            for _ in 0..count {
                // A handler that reaps itself (a socket closed from a waker) may have taken
                // the rest already.
                let Some(c) = self.ring.borrow_mut().completion().next() else {
                    break;
                };
                self.complete(c.user_data(), c.result(), c.flags());
            }
            self.bufs.publish();
            if !self.entered.get() {
                break;
            }
        }
    }
}
