//! `LoopTimer`: hyper's timer on the event loop's timing wheel, with `Send + Sync` sleeps.
//!
//! hyper asks for sleeps that are `Send + Sync`; the loop's own [`event::Sleep`] is not (it
//! holds the loop by `Rc`). A [`LoopSleep`] therefore holds only `Send` data: its deadline and,
//! once a poll had to wait, the thread and key of an `event::Sleep` kept in that thread's table
//! of sleeps (a thread-local slab). Polls, resets and drops on that thread reach the wheel
//! directly: a slab insert and a wheel entry per sleep, no task, no lock, no atomic (hyper
//! makes a header-read sleep per request; a driver task per sleep cost about 1,800
//! instructions per request). A sleep polled on another thread moves to that thread's table;
//! one dropped or reset on another thread leaves its entry to its own thread, which removes
//! it the next time it arms a sleep. No `unsafe impl Send` anywhere.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use slab::Slab;

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
/// A sleep lives on the wheel of the loop of the thread that polls it (a poll on another
/// thread moves it there); polled where no loop runs it panics, saying so (a hyper connection
/// belongs on a loop's task).
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

/// The sleep of [`LoopTimer`]: `Send + Sync`, on an event loop's wheel (see the module docs).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct LoopSleep {
    deadline: Instant,
    /// Where its `event::Sleep` is, once a poll had to wait.
    armed: Option<Armed>,
}

/// A sleep's entry in a thread's table.
#[derive(Debug, Clone, Copy)]
struct Armed {
    thread: ThreadId,
    key: usize,
}

thread_local! {
    /// The armed sleeps of this thread's loop.
    static SLEEPS: RefCell<Slab<event::Sleep>> = const { RefCell::new(Slab::new()) };
}

/// Entries whose sleep was dropped or reset on another thread than theirs, for their thread
/// to remove (rare: hyper's connections stay on their loop).
static ORPHANS: Mutex<Vec<(ThreadId, usize)>> = Mutex::new(Vec::new());
static HAS_ORPHANS: AtomicBool = AtomicBool::new(false);

impl Armed {
    /// Whether the entry is this thread's.
    fn is_here(&self) -> bool {
        self.thread == thread::current().id()
    }

    /// Lets the entry go: removed now on its own thread, else left to it.
    fn release(self) {
        if self.is_here() {
            // At thread exit the table may be gone already (and its sleeps with it).
            let _ = SLEEPS.try_with(|sleeps| sleeps.borrow_mut().try_remove(self.key));
        } else {
            ORPHANS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((self.thread, self.key));
            HAS_ORPHANS.store(true, Ordering::Release);
        }
    }
}

/// Removes this thread's entries that other threads let go of.
#[cold]
fn remove_orphans(sleeps: &mut Slab<event::Sleep>) {
    let here = thread::current().id();
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    orphans.retain(|&(thread, key)| {
        if thread == here {
            sleeps.try_remove(key);
        }
        thread != here
    });
    HAS_ORPHANS.store(!orphans.is_empty(), Ordering::Release);
}

impl LoopSleep {
    /// A sleep until `deadline` (nothing is registered until it is polled and has to wait).
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

    /// Moves the deadline (on the sleep's own thread its wheel entry follows at the next poll,
    /// with no allocation).
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        match self.armed {
            Some(armed) if armed.is_here() => SLEEPS.with(|sleeps| {
                if let Some(sleep) = sleeps.borrow_mut().get_mut(armed.key) {
                    sleep.reset(deadline);
                }
            }),
            Some(armed) => {
                self.armed = None;
                armed.release();
            }
            None => {}
        }
    }

    /// The first poll that has to wait: an `event::Sleep` in this thread's table.
    fn arm(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !event::on_loop() {
            no_loop();
        }
        let mut sleep = event::sleep_until(self.deadline);
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let key = SLEEPS.with(|sleeps| {
            let mut sleeps = sleeps.borrow_mut();
            if HAS_ORPHANS.load(Ordering::Acquire) {
                remove_orphans(&mut sleeps);
            }
            sleeps.insert(sleep)
        });
        self.armed = Some(Armed {
            thread: thread::current().id(),
            key,
        });
        Poll::Pending
    }
}

impl Future for LoopSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.armed {
            Some(armed) if armed.is_here() => SLEEPS.with(|sleeps| {
                let mut sleeps = sleeps.borrow_mut();
                match sleeps.get_mut(armed.key) {
                    Some(sleep) => Pin::new(sleep).poll(cx),
                    // Its thread's loop ended and took the table with it.
                    None => Poll::Ready(()),
                }
            }),
            Some(armed) => {
                // Moved to another thread: its entry stays behind, this thread arms anew.
                this.armed = None;
                armed.release();
                this.arm(cx)
            }
            None => this.arm(cx),
        }
    }
}

impl hyper::rt::Sleep for LoopSleep {}

impl Drop for LoopSleep {
    fn drop(&mut self) {
        if let Some(armed) = self.armed.take() {
            armed.release();
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
