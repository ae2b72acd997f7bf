//! Timers: `sleep`, `sleep_until`, `timeout`, and the per-operation deadlines sockets use.

pub(crate) mod wheel;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::event_loop::{self, Core};
use wheel::TimerKey;

/// A timer armed in a loop's wheel, removed (in O(1)) when dropped.
pub(crate) struct Timer {
    core: Rc<Core>,
    key: TimerKey,
}

impl Timer {
    pub(crate) fn arm(core: &Rc<Core>, deadline: Instant, waker: &Waker) -> Timer {
        let key = core.timers.borrow_mut().insert(deadline, waker.clone());
        Timer {
            core: core.clone(),
            key,
        }
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.core.timers.borrow().is_fired(self.key)
    }

    pub(crate) fn set_waker(&self, waker: &Waker) {
        self.core.timers.borrow_mut().set_waker(self.key, waker);
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.core.timers.borrow_mut().remove(self.key);
    }
}

/// A deadline for one operation: armed lazily, only once the operation has to wait.
///
/// Its timer is armed at or before `at`, never after: `restart` moves `at` later and keeps the
/// timer where it is, so it may fire early (once), and `poll_elapsed` then arms it again at
/// `at`.
pub(crate) struct Deadline {
    at: Instant,
    timer: Option<Timer>,
}

impl Deadline {
    pub(crate) fn after(duration: Duration) -> Deadline {
        Deadline::at(instant_after(duration))
    }

    pub(crate) fn at(at: Instant) -> Deadline {
        Deadline { at, timer: None }
    }

    /// Starts the deadline again, `after` from now. A timer already armed stays in the wheel
    /// when the new deadline is not earlier than the old one (it fires early at most once, and
    /// `poll_elapsed` arms it again): an operation that completes and waits again many times
    /// within one timeout (a keep-alive connection's reads, a large write's partial sends)
    /// touches the wheel about once per timeout instead of an insert and a remove per wait.
    #[inline]
    pub(crate) fn restart(&mut self, after: Duration) {
        let at = instant_after(after);
        if at < self.at {
            // A shorter timeout than before: the timer may be armed too late for it.
            self.timer = None;
        }
        self.at = at;
    }

    /// Returns `true` once the deadline has passed; otherwise makes sure the task is woken at it.
    ///
    /// "Passed" is judged against the loop's clock (`Core::clock`, a lower bound of now), not a
    /// fresh clock read: a deadline that passed since fires the timer at the next turn.
    pub(crate) fn poll_elapsed(&mut self, core: &Rc<Core>, cx: &mut Context<'_>) -> bool {
        match &self.timer {
            Some(timer) if !timer.is_fired() => {
                timer.set_waker(cx.waker());
                false
            }
            // Not armed yet, or fired (the wheel fires an entry only once its deadline is at or
            // before the loop's clock, except past the wheel's span: then it is armed again).
            _ => {
                if self.at <= core.clock() {
                    return true;
                }
                self.timer = Some(Timer::arm(core, self.at, cx.waker()));
                false
            }
        }
    }
}

/// Waits until `duration` has passed.
///
/// ```
/// use std::time::{Duration, Instant};
/// event::run(async {
///     let start = Instant::now();
///     event::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(instant_after(duration))
}

/// `now + duration`, saturating at about thirty years ahead (so `Duration::MAX` means "never"
/// instead of overflowing `Instant`).
pub(crate) fn instant_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// Waits until `deadline`. It never completes before it.
///
/// On an event loop the timer lives in the loop's timing wheel. Polled where no loop runs (from
/// another executor), it still works, by parking a helper thread until the deadline: slower, but
/// never a panic.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        state: SleepState::Idle,
    }
}

/// The future of [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    state: SleepState,
}

enum SleepState {
    Idle,
    Armed(Timer),
    Detached(Arc<Mutex<Waker>>),
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline (cheap: a cancel and an arm, no allocation once warm).
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let SleepState::Armed(_) = self.state {
            self.state = SleepState::Idle;
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // On a loop, "passed?" is judged against the loop's clock (a lower bound of now, see
        // `Core::clock`): a deadline that passed since fires the timer at the next turn.
        match &this.state {
            SleepState::Armed(timer) if this.deadline <= timer.core.clock() => {}
            SleepState::Armed(timer) if !timer.is_fired() => {
                timer.set_waker(cx.waker());
                return Poll::Pending;
            }
            SleepState::Detached(waker) if Instant::now() < this.deadline => {
                *waker.lock().unwrap_or_else(|e| e.into_inner()) = cx.waker().clone();
                return Poll::Pending;
            }
            SleepState::Detached(_) => {}
            // Idle, or fired past the wheel's span (armed again).
            SleepState::Idle | SleepState::Armed(_) => match event_loop::current() {
                Some(core) if this.deadline > core.clock() => {
                    this.state = SleepState::Armed(Timer::arm(&core, this.deadline, cx.waker()));
                    return Poll::Pending;
                }
                None if Instant::now() < this.deadline => {
                    this.state = SleepState::Detached(park_until(this.deadline, cx.waker()));
                    return Poll::Pending;
                }
                _ => {}
            },
        }
        this.state = SleepState::Idle;
        Poll::Ready(())
    }
}

/// Wakes the latest waker at `deadline` from a helper thread (the no-loop fallback).
fn park_until(deadline: Instant, waker: &Waker) -> Arc<Mutex<Waker>> {
    let shared = Arc::new(Mutex::new(waker.clone()));
    let waker = shared.clone();
    std::thread::spawn(move || {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .wake_by_ref();
    });
    shared
}

/// The error of a [`timeout`] that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed(());

/// Runs `future` with a time limit: `Err(Elapsed)` if it has not completed within `duration`, in
/// which case the future is dropped, releasing what it held.
///
/// ```
/// use std::time::Duration;
/// event::run(async {
///     let slow = event::sleep(Duration::from_secs(3600));
///     assert!(event::timeout(Duration::from_millis(10), slow).await.is_err());
///     let fast = async { 5 };
///     assert_eq!(event::timeout(Duration::from_secs(1), fast).await, Ok(5));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        inner: Some(future),
        sleep: sleep(duration),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        inner: Option<F>,
        sleep: Sleep,
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline)
            .finish()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Elapsed(())));
        };
        if let Poll::Ready(v) = inner.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => {
                // Drop the inner future now, not when the caller drops us.
                this.inner.set(None);
                Poll::Ready(Err(Elapsed(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
