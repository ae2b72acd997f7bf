//! The executor: task allocation (by `async-task`), the cross-thread injection queue, and the
//! handles users hold.
//!
//! A waker fired on the loop's own thread pushes the task to the loop's local queue (no lock, no
//! system call); one fired from another thread pushes to the injection queue and wakes the
//! multiplexer through a `mio::Waker`.

pub(crate) mod coop;
mod join;
pub(crate) mod local;

pub(crate) use join::{CatchUnwind, panic_message};
pub use join::{JoinError, JoinHandle};

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use async_task::Runnable;
use slab::Slab;

use crate::driver::WAKE_TOKEN;
use crate::event_loop;

/// The part of a loop other threads may touch.
pub(crate) struct Shared {
    pub(crate) id: usize,
    injected: Mutex<Vec<Runnable>>,
    /// Set when the injection queue (or the root future) may need attention and the
    /// multiplexer has been woken; cleared by the loop before it drains.
    notified: AtomicBool,
    closed: AtomicBool,
    waker: mio::Waker,
    /// A waker of every live task spawned through a `LoopHandle` (the thread-safe counterpart of
    /// the loop's own task registry), so that dropping the loop cancels those tasks too. Each
    /// entry carries the serial of its spawn, so a late guard never removes a successor.
    remote_tasks: Mutex<Slab<(u64, Option<Waker>)>>,
    remote_serial: AtomicU64,
}

impl Shared {
    pub(crate) fn new(registry: &mio::Registry) -> io::Result<Arc<Shared>> {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
        Ok(Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            injected: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            waker: mio::Waker::new(registry, WAKE_TOKEN)?,
            remote_tasks: Mutex::new(Slab::new()),
            remote_serial: AtomicU64::new(0),
        }))
    }

    /// Takes the wakers of every live task spawned through a `LoopHandle` (the loop is going).
    pub(crate) fn take_remote_wakers(&self) -> Vec<Waker> {
        lock(&self.remote_tasks)
            .drain()
            .filter_map(|(_, waker)| waker)
            .collect()
    }

    /// The schedule function of every task of this loop.
    #[inline]
    pub(crate) fn schedule(&self, runnable: Runnable) {
        if let Some(r) = local::schedule_local(self.id, runnable) {
            self.inject(r);
        }
    }

    #[cold]
    fn inject(&self, runnable: Runnable) {
        if self.closed.load(Ordering::Acquire) {
            // The loop is gone. A local task must not be dropped on a foreign thread, so the
            // task is leaked: bounded by the tasks of a dead loop woken from elsewhere.
            std::mem::forget(runnable);
            return;
        }
        lock(&self.injected).push(runnable);
        self.notify();
    }

    /// Wakes the loop's multiplexer, once until the loop drains.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // Fails only if the eventfd is gone, i.e. the loop is being dropped.
            let _ = self.waker.wake();
        }
    }

    pub(crate) fn has_injected(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    pub(crate) fn drain_injected(&self, queue: &mut std::collections::VecDeque<Runnable>) {
        self.notified.store(false, Ordering::Release);
        queue.extend(lock(&self.injected).drain(..));
    }

    pub(crate) fn take_injected(&self) -> Vec<Runnable> {
        std::mem::take(&mut *lock(&self.injected))
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Whatever is left was injected after the loop was torn down, possibly from another
        // thread: leak it rather than drop a thread-bound task on the wrong thread.
        for r in lock(&self.injected).drain(..) {
            std::mem::forget(r);
        }
    }
}

/// The queue holds no invariant a panic could break, so a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns a task on the event loop running on this thread.
///
/// The future need not be `Send`: it stays on this loop. The returned [`JoinHandle`] can be
/// awaited for the output, [`cancel`](JoinHandle::cancel)led, or dropped to let the task run
/// detached (like Swift's `Task { }`).
///
/// ```
/// event::run(async {
///     let handle = event::spawn(async { "hello" });
///     assert_eq!(handle.await.unwrap(), "hello");
/// });
/// ```
///
/// To spawn from another thread, use a [`LoopHandle`]; to queue a task on a loop before it
/// runs, [`EventLoop::spawn`](crate::EventLoop::spawn).
///
/// # Panics
///
/// If no event loop is running on this thread (outside [`run`](crate::run) and
/// [`EventLoop::block_on`](crate::EventLoop::block_on)): a task spawned there could never run,
/// and a detached one would be lost without a word. [`try_spawn`] returns
/// [`JoinError::NoEventLoop`] instead.
///
/// ```should_panic
/// // No loop runs here: this panics, naming the fix.
/// event::spawn(async {});
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match event_loop::current() {
        Some(core) => core.spawn(future),
        None => no_event_loop_panic("event::spawn"),
    }
}

/// The panic of a spawn where no loop runs.
#[cold]
#[track_caller]
pub(crate) fn no_event_loop_panic(what: &str) -> ! {
    panic!(
        "{what} called where no event loop is running on this thread: call it inside \
         event::run(...) or EventLoop::block_on, use EventLoop::spawn or a LoopHandle, or \
         event::try_spawn to get an error instead"
    )
}

/// Like [`spawn`], but returns [`JoinError::NoEventLoop`] where no loop is running instead of
/// panicking.
///
/// ```
/// assert_eq!(event::try_spawn(async {}).unwrap_err(), event::JoinError::NoEventLoop);
/// ```
pub fn try_spawn<F>(future: F) -> Result<JoinHandle<F::Output>, JoinError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match event_loop::current() {
        Some(core) => Ok(core.spawn(future)),
        None => Err(JoinError::NoEventLoop),
    }
}

/// A `Send + Sync` handle to a loop, for spawning `Send` futures onto it from any thread.
///
/// ```
/// let lp = event::EventLoop::new()?;
/// let handle = lp.handle();
/// let task = std::thread::spawn(move || handle.spawn(async { 7 })).join().unwrap();
/// assert_eq!(lp.block_on(task).unwrap(), 7);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl LoopHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> LoopHandle {
        LoopHandle { shared }
    }

    /// Spawns `future` onto the loop; it runs the next time the loop turns. If the loop has been
    /// dropped, the task never runs and its handle never resolves.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let serial = self.shared.remote_serial.fetch_add(1, Ordering::Relaxed);
        let key = lock(&self.shared.remote_tasks).insert((serial, None));
        let guard = RemoteGuard {
            shared: self.shared.clone(),
            key,
            serial,
        };
        let shared = self.shared.clone();
        let (runnable, task) = async_task::spawn(
            RemoteTracked {
                inner: CatchUnwind::new(future),
                _guard: guard,
            },
            move |runnable| shared.schedule(runnable),
        );
        if let Some((s, slot)) = lock(&self.shared.remote_tasks).get_mut(key)
            && *s == serial
        {
            *slot = Some(runnable.waker());
        }
        runnable.schedule();
        JoinHandle::new(task)
    }
}

pin_project_lite::pin_project! {
    /// A `LoopHandle` task's future, with the guard that takes it out of the registry.
    struct RemoteTracked<F> {
        #[pin]
        inner: F,
        _guard: RemoteGuard,
    }
}

impl<F: Future> Future for RemoteTracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

struct RemoteGuard {
    shared: Arc<Shared>,
    key: usize,
    serial: u64,
}

impl Drop for RemoteGuard {
    fn drop(&mut self) {
        let waker = {
            let mut tasks = lock(&self.shared.remote_tasks);
            match tasks.get(self.key) {
                Some((s, _)) if *s == self.serial => tasks.remove(self.key).1,
                _ => None,
            }
        };
        drop(waker);
    }
}

/// Yields to the loop once, letting other tasks and I/O run before this task continues.
///
/// ```
/// event::run(async {
///     event::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
