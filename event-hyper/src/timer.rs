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
//! it the next time it arms a sleep. Until then the entry keeps its loop allocated (and the
//! loop's descriptors open, its teardown not run) even after that loop's `run` returned: a
//! known limit, reached only by moving a hyper sleep off its connection's thread, which hyper's
//! connections never do. No `unsafe impl Send` anywhere.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
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
    /// The table's `Sleeps::id` (a thread's, cheaper to compare than a `ThreadId`).
    table: u64,
    key: usize,
}

/// A thread's armed sleeps.
struct Sleeps {
    id: u64,
    slab: RefCell<Slab<event::Sleep>>,
}

/// Tells the tables of different threads apart.
static NEXT_TABLE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The armed sleeps of this thread's loop.
    static SLEEPS: Sleeps = Sleeps {
        id: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
        slab: RefCell::new(Slab::new()),
    };
}

/// Entries whose sleep was dropped or reset on another thread than theirs, for their thread
/// to remove (rare: hyper's connections stay on their loop).
static ORPHANS: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());
static HAS_ORPHANS: AtomicBool = AtomicBool::new(false);

/// Runs `f` on this thread's table (`None` while the thread ends and the table is gone).
fn with_sleeps<T>(f: impl FnOnce(&Sleeps) -> T) -> Option<T> {
    SLEEPS.try_with(f).ok()
}

impl Armed {
    /// Lets the entry go: removed now on its own thread, else left to it.
    fn release(self) {
        let removed = with_sleeps(|sleeps| {
            let here = sleeps.id == self.table;
            if here {
                sleeps.slab.borrow_mut().try_remove(self.key);
            }
            here
        });
        // At thread exit the table may be gone already (and its sleeps with it).
        if removed == Some(false) {
            ORPHANS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((self.table, self.key));
            HAS_ORPHANS.store(true, Ordering::Release);
        }
    }
}

/// Removes the entries of table `here` that other threads let go of.
#[cold]
fn remove_orphans(here: u64, slab: &mut Slab<event::Sleep>) {
    let mut orphans = ORPHANS.lock().unwrap_or_else(|e| e.into_inner());
    orphans.retain(|&(table, key)| {
        if table == here {
            slab.try_remove(key);
        }
        table != here
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
        let Some(armed) = self.armed else { return };
        let here = with_sleeps(|sleeps| {
            let here = sleeps.id == armed.table;
            if here && let Some(sleep) = sleeps.slab.borrow_mut().get_mut(armed.key) {
                sleep.reset(deadline);
            }
            here
        });
        if here != Some(true) {
            self.armed = None;
            armed.release();
        }
    }

    /// The first poll that has to wait (on this thread): an `event::Sleep` in this thread's
    /// table.
    fn arm(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !event::on_loop() {
            no_loop();
        }
        let mut sleep = event::sleep_until(self.deadline);
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        self.armed = with_sleeps(|sleeps| {
            let mut slab = sleeps.slab.borrow_mut();
            if HAS_ORPHANS.load(Ordering::Acquire) {
                remove_orphans(sleeps.id, &mut slab);
            }
            Armed {
                table: sleeps.id,
                key: slab.insert(sleep),
            }
        });
        Poll::Pending
    }
}

impl Future for LoopSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(armed) = this.armed else {
            return this.arm(cx);
        };
        let polled = with_sleeps(|sleeps| {
            if sleeps.id != armed.table {
                return None;
            }
            Some(match sleeps.slab.borrow_mut().get_mut(armed.key) {
                Some(sleep) => Pin::new(sleep).poll(cx),
                None => Poll::Ready(()),
            })
        });
        match polled {
            Some(Some(poll)) => poll,
            // Moved to another thread: its entry stays behind, this thread arms anew.
            Some(None) => {
                this.armed = None;
                armed.release();
                this.arm(cx)
            }
            // The thread is ending.
            None => Poll::Ready(()),
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
