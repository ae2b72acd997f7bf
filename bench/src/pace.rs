//! The paced loads' timer (`--rate`, HTTP `@RATE`): a `timerfd` in the client's mio poll, so a request due in 300 us
//! starts then. A mio wait rounds its timeout up to whole milliseconds, and spinning on
//! zero-timeout waits instead slowed the client below the rates it paces (bench/LOG.md).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The paced load's timer in a load generator's poll (no target has this many connections).
pub const TIMER: mio::Token = mio::Token(usize::MAX);

/// A one-shot monotonic timer whose expiry makes its descriptor readable.
pub struct PaceTimer {
    fd: OwnedFd,
}

impl PaceTimer {
    pub fn new() -> io::Result<PaceTimer> {
        // SAFETY: plain system call with constant flags; the result is checked below.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(PaceTimer { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// A timer registered in `poll` as [`TIMER`], if the load is paced (`rate` given).
    pub fn for_rate(poll: &mio::Poll, rate: Option<u32>) -> io::Result<Option<PaceTimer>> {
        if rate.is_none() {
            return Ok(None);
        }
        let t = PaceTimer::new()?;
        let fd = t.fd.as_raw_fd();
        poll.registry().register(&mut mio::unix::SourceFd(&fd), TIMER, mio::Interest::READABLE)?;
        Ok(Some(t))
    }

    /// Fires once at `at` (at once if that is past), replacing any earlier setting.
    pub fn fire_at(&self, at: Instant) -> io::Result<()> {
        // A zero value would disarm the timer: a past instant fires after 1 ns instead.
        let d = at.saturating_duration_since(Instant::now()).max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long },
        };
        // SAFETY: `fd` is our open timerfd; `spec` is a valid itimerspec read during the call;
        // the old value is not asked for (null).
        if unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry, so the next one is a new edge for the poll.
    pub fn clear(&self) {
        let mut count = [0u8; 8];
        // SAFETY: `fd` is our open timerfd; `count` is valid for writes of 8 bytes. A timer that
        // has not expired fails with EAGAIN (non-blocking), which is fine.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
    }
}
