//! `LoopTimer`: hyper's timer on the event loop's timing wheel, with `Send + Sync` sleeps.
//!
//! hyper asks for sleeps that are `Send + Sync`; the loop's own [`event::Sleep`] is not (it
//! holds the loop by `Rc`). A [`LoopSleep`] therefore holds only `Send` data: its deadline and
//! an `Arc<Mutex<..>>` registration. The first poll that has to wait spawns a small local task
//! on the loop of the polling thread; that task sleeps on the wheel (an `event::Sleep`, never
//! moved off its loop) and wakes the sleep's waker at the deadline. Reset and drop reach the
//! task through the registration (a deadline moved earlier, or a drop, wakes it), from any
//! thread. No `unsafe impl Send` anywhere.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// hyper's [`Timer`](hyper::rt::Timer) on the event loop: what hyper's header-read timeout,
/// HTTP/2 keep-alive pings and the like sleep on.
///
/// ```
/// use std::time::{Duration, Instant};
/// use hyper::rt::Timer;
///
/// event::run(async {
///     let start = Instant::now();
///     event_hyper::LoopTimer.sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
///
/// A sleep is driven by the loop of the thread that first polls it (and has to wait); polling it
/// later on another thread panics, and polling it where no loop runs panics, both with a message
/// saying so (a sleep that could never fire would hang its connection without a word).
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopTimer;

impl hyper::rt::Timer for LoopTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(LoopSleep::until(instant_after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(LoopSleep::until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<LoopSleep>() {
            Some(sleep) => sleep.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// `now + duration`, saturating (so `Duration::MAX` means "never").
fn instant_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// The sleep of [`LoopTimer`]: `Send + Sync`, driven by an event loop (see the module docs).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct LoopSleep {
    deadline: Instant,
    /// Set by the first poll that has to wait.
    armed: Option<Arc<Registration>>,
}

#[derive(Debug)]
struct Registration {
    /// The thread whose loop drives the sleep.
    thread: ThreadId,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    deadline: Instant,
    /// The driver task saw the deadline pass and ended.
    fired: bool,
    /// The sleep was dropped: the driver task ends.
    dropped: bool,
    /// The task awaiting the sleep.
    sleeper: Option<Waker>,
    /// The driver task, while it waits.
    driver: Option<Waker>,
}

impl Registration {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn set_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

impl LoopSleep {
    /// A sleep until `deadline` (no task is spawned until it is polled and has to wait).
    pub fn until(deadline: Instant) -> LoopSleep {
        LoopSleep {
            deadline,
            armed: None,
        }
    }

    /// The instant the sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline; the driver task (if any) follows without being respawned.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let Some(reg) = &self.armed else { return };
        let mut state = reg.lock();
        if state.fired {
            // The driver task is gone: the next poll that has to wait spawns another.
            drop(state);
            self.armed = None;
            return;
        }
        let earlier = deadline < state.deadline;
        state.deadline = deadline;
        // A later deadline: the driver notices when its wheel timer fires; an earlier one must
        // wake it now to re-arm.
        let driver = if earlier { state.driver.take() } else { None };
        drop(state);
        if let Some(w) = driver {
            w.wake();
        }
    }
}

impl Future for LoopSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        match &this.armed {
            Some(reg) => {
                if reg.thread != thread::current().id() {
                    wrong_thread();
                }
                let mut state = reg.lock();
                if state.fired {
                    return Poll::Ready(());
                }
                set_waker(&mut state.sleeper, cx.waker());
            }
            None => {
                let reg = Arc::new(Registration {
                    thread: thread::current().id(),
                    state: Mutex::new(State {
                        deadline: this.deadline,
                        fired: false,
                        dropped: false,
                        sleeper: Some(cx.waker().clone()),
                        driver: None,
                    }),
                });
                if event::try_spawn(drive(reg.clone())).is_err() {
                    no_loop();
                }
                this.armed = Some(reg);
            }
        }
        Poll::Pending
    }
}

impl hyper::rt::Sleep for LoopSleep {}

impl Drop for LoopSleep {
    fn drop(&mut self) {
        if let Some(reg) = self.armed.take() {
            let mut state = reg.lock();
            state.dropped = true;
            let driver = state.driver.take();
            drop(state);
            // From any thread: the driver task wakes on its own loop and ends.
            if let Some(w) = driver {
                w.wake();
            }
        }
    }
}

#[cold]
#[track_caller]
fn no_loop() -> ! {
    panic!(
        "event_hyper::LoopSleep polled where no event loop runs on this thread \
         (hyper's timer must be used from tasks on an event loop)"
    )
}

#[cold]
#[track_caller]
fn wrong_thread() -> ! {
    panic!(
        "event_hyper::LoopSleep polled on a thread other than the one whose event loop drives it \
         (hyper connections using LoopTimer must stay on their loop)"
    )
}

/// What wakes the driver task.
enum Wake {
    Stop,
    Rearm,
    Fired,
}

/// The driver task: sleeps on the loop's wheel until the registration's deadline, following
/// resets, and wakes the sleeper when it passes.
async fn drive(reg: Arc<Registration>) {
    loop {
        let deadline = {
            let state = reg.lock();
            if state.dropped {
                return;
            }
            state.deadline
        };
        let mut sleep = event::sleep_until(deadline);
        let wake = poll_fn(|cx| {
            {
                let mut state = reg.lock();
                if state.dropped {
                    return Poll::Ready(Wake::Stop);
                }
                if state.deadline != deadline {
                    return Poll::Ready(Wake::Rearm);
                }
                set_waker(&mut state.driver, cx.waker());
            }
            Pin::new(&mut sleep).poll(cx).map(|()| Wake::Fired)
        })
        .await;
        match wake {
            Wake::Stop => return,
            Wake::Rearm => continue,
            Wake::Fired => {
                let mut state = reg.lock();
                if state.deadline != deadline {
                    continue; // moved while we were being woken
                }
                state.fired = true;
                state.driver = None;
                let sleeper = state.sleeper.take();
                drop(state);
                if let Some(w) = sleeper {
                    w.wake();
                }
                return;
            }
        }
    }
}
