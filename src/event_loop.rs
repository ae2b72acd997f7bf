//! `EventLoop`: one per thread; it owns the reactor, the timer wheel and the run queue, and
//! drives them from `block_on`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;

use crate::driver::Driver;
use crate::executor::local::{self, Local};
use crate::executor::{JoinHandle, LoopHandle, Shared, coop};
use crate::time::wheel::Wheel;

/// Size of the loop's read buffer: the most one `Socket::read` returns.
const SCRATCH_LEN: usize = 64 * 1024;

/// The state of one loop, shared by everything running on it (`Rc`: it never leaves its thread).
pub(crate) struct Core {
    /// How operations reach the kernel: epoll or io_uring.
    pub(crate) driver: Driver,
    pub(crate) timers: RefCell<Wheel>,
    /// The instant the loop last read the clock: a lower bound of now, so a deadline at or
    /// before it has certainly passed (see [`Core::clock`]).
    clock: Cell<Instant>,
    /// The executor's local half: the run queue and the task registry.
    pub(crate) local: Local,
    pub(crate) shared: Arc<Shared>,
    /// The wakers of the timers that fired this turn (kept to reuse its allocation).
    pub(crate) fired: RefCell<Vec<Waker>>,
    /// The buffer `Socket::read` reads into before copying out exactly what arrived.
    pub(crate) scratch: RefCell<Box<[u8]>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// The loop running on this thread, if `block_on` is active.
pub(crate) fn current() -> Option<Rc<Core>> {
    // `try_with`: during the thread's teardown (a loop kept in a thread-local being dropped)
    // there is no current loop.
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Whether `core` is the loop running on this thread: its run queue is installed (a flag on
/// the core, no thread-local access: this sits on the path of every operation that waits).
#[inline]
pub(crate) fn is_current(core: &Rc<Core>) -> bool {
    core.local.is_installed()
}

/// Restores the previous (empty) current loop on drop, also when unwinding.
struct Enter;

impl Enter {
    fn new(core: Rc<Core>) -> Enter {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            assert!(
                c.is_none(),
                "event: block_on called from inside a running event loop on this thread; \
                 await the future instead, or spawn it with event::spawn"
            );
            core.local.install();
            core.driver.set_running(true);
            *c = Some(core);
        });
        Enter
    }
}

/// Makes `core` current until dropped, then restores whatever was current before.
///
/// Used when a loop is dropped, which can happen while the thread's thread-locals are being
/// destroyed (a loop kept in a thread-local): then the thread-locals may be gone already, and
/// the loop is torn down without being current (its run queue stays in its `Core`).
struct SwapCurrent(Option<Rc<Core>>);

impl SwapCurrent {
    fn new(core: Rc<Core>) -> SwapCurrent {
        let previous = CURRENT.try_with(|c| c.borrow_mut().take()).ok().flatten();
        if let Some(previous) = &previous {
            previous.local.park();
        }
        core.local.install();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = Some(core));
        SwapCurrent(previous)
    }
}

impl Drop for SwapCurrent {
    fn drop(&mut self) {
        let ours = CURRENT.try_with(|c| c.borrow_mut().take()).ok().flatten();
        if let Some(ours) = &ours {
            ours.local.park();
        }
        if let Some(previous) = &self.0 {
            previous.local.install();
        }
        let previous = self.0.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
        drop(ours);
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let core = CURRENT.try_with(|c| c.borrow_mut().take()).ok().flatten();
        if let Some(core) = &core {
            core.driver.set_running(false);
            core.local.park();
        }
        drop(core);
    }
}

/// A single-threaded event loop over the operating system's multiplexer.
///
/// One loop per thread: it owns the `epoll` (Linux) or `kqueue` (macOS, BSD) instance, the timers
/// and the tasks spawned on it, and runs them when you call [`block_on`](EventLoop::block_on).
/// Most programs never name it and call [`run`] instead.
///
/// ```
/// let lp = event::EventLoop::new()?;
/// assert_eq!(lp.block_on(async { 6 * 7 }), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop {
    core: Rc<Core>,
    /// Why `Backend::Auto` did not pick io_uring, if it did not.
    fallback: Option<String>,
}

/// Which driver an [`EventLoop`] uses.
///
/// `Auto` (the default) picks io_uring where the kernel allows it and epoll (kqueue on macOS and
/// the BSDs) otherwise; [`EventLoop::fallback_reason`] says why io_uring was not used. The
/// `EVENT_BACKEND` environment variable (`auto`, `epoll`, `io_uring`) sets the backend of every
/// loop whose builder does not name one, so a whole test suite can run on either driver.
///
/// ```
/// use event::{Backend, EventLoop};
/// let lp = EventLoop::builder().backend(Backend::Epoll).build()?;
/// # #[cfg(target_os = "linux")]
/// assert_eq!(lp.backend(), "epoll");
/// assert_eq!("io_uring".parse::<Backend>(), Ok(Backend::IoUring));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// io_uring where it works, else the readiness multiplexer.
    #[default]
    Auto,
    /// The readiness multiplexer: epoll on Linux, kqueue on macOS and the BSDs.
    Epoll,
    /// io_uring (Linux 6.1 or later); building the loop fails if the kernel refuses it.
    IoUring,
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Backend, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Backend::Auto),
            "epoll" | "kqueue" | "poll" | "readiness" => Ok(Backend::Epoll),
            "io_uring" | "io-uring" | "iouring" | "uring" => Ok(Backend::IoUring),
            _ => Err(format!(
                "unknown event loop backend {s:?}: expected auto, epoll or io_uring"
            )),
        }
    }
}

impl Backend {
    /// The backend named by `EVENT_BACKEND`, or `Auto` when it is unset.
    pub fn from_env() -> io::Result<Backend> {
        match std::env::var("EVENT_BACKEND") {
            Ok(v) => v.parse().map_err(|e: String| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("EVENT_BACKEND: {e}"))
            }),
            Err(_) => Ok(Backend::Auto),
        }
    }
}

/// Builds an [`EventLoop`] with a chosen [`Backend`].
///
/// ```
/// let lp = event::EventLoop::builder().backend(event::Backend::Auto).build()?;
/// println!("running on {}", lp.backend());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    backend: Option<Backend>,
    linger_timeout: Option<Duration>,
}

impl Builder {
    /// A builder that takes the backend from `EVENT_BACKEND` (else `Auto`).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Uses `backend`, whatever `EVENT_BACKEND` says.
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = Some(backend);
        self
    }

    /// How long the bytes written to a socket that was then dropped may wait for the peer to
    /// take any of them before the connection is reset (default 60 s).
    ///
    /// On io_uring a write completes once its bytes are in the driver's send buffer
    /// (write-behind), so a socket dropped right after a write still has bytes on their way;
    /// the driver keeps sending them while the peer takes them. A peer that takes nothing for
    /// this long gets what still fits in the kernel's socket buffer and then, if anything is
    /// left, a reset: it never sees a clean end of stream after missing bytes. Dropping the
    /// loop waits for such bytes while they move, and gives up after this long (at most 2 s)
    /// without progress; [`Shutdown::drain`](crate::Shutdown::drain) gives up at its deadline.
    /// (On epoll the kernel holds the bytes after `close` and this setting has no effect.)
    ///
    /// ```
    /// use std::time::Duration;
    /// let lp = event::EventLoop::builder().linger_timeout(Duration::from_secs(5)).build()?;
    /// # drop(lp);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn linger_timeout(mut self, timeout: Duration) -> Builder {
        self.linger_timeout = Some(timeout);
        self
    }

    /// Creates the loop. Fails if the multiplexer cannot be created, if `EVENT_BACKEND` holds
    /// an unknown name, or if [`Backend::IoUring`] was asked for and the kernel refuses it.
    pub fn build(self) -> io::Result<EventLoop> {
        let backend = match self.backend {
            Some(b) => b,
            None => Backend::from_env()?,
        };
        EventLoop::with_backend(backend, self.linger_timeout)
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("backend", &self.backend())
            .field("tasks_queued", &self.core.local.with_queue(|q| q.len()))
            .finish()
    }
}

impl EventLoop {
    /// Creates a loop for the current thread.
    ///
    /// Fails only if the multiplexer cannot be created (for example when the process is out of
    /// file descriptors).
    ///
    /// The backend is [`Backend::Auto`] unless `EVENT_BACKEND` names another; see
    /// [`EventLoop::builder`].
    pub fn new() -> io::Result<EventLoop> {
        Builder::new().build()
    }

    /// A builder, to choose the [`Backend`].
    pub fn builder() -> Builder {
        Builder::new()
    }

    fn with_backend(backend: Backend, linger_timeout: Option<Duration>) -> io::Result<EventLoop> {
        let (driver, fallback) = Driver::new(backend, linger_timeout)?;
        let shared = Shared::new(driver.reactor().registry())?;
        let now = Instant::now();
        let core = Rc::new(Core {
            driver,
            timers: RefCell::new(Wheel::new(now)),
            clock: Cell::new(now),
            local: Local::new(shared.id),
            shared,
            scratch: RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice()),
            fired: RefCell::new(Vec::new()),
        });
        Ok(EventLoop { core, fallback })
    }

    /// Why [`Backend::Auto`] fell back from io_uring to the readiness multiplexer (`None` if it
    /// did not, or if the backend was chosen explicitly). With the `tracing` feature the same
    /// reason is logged as a warning when the loop is built.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The name of the driver in use: `"io_uring"`, or the readiness multiplexer (`"epoll"` on
    /// Linux and Android, `"kqueue"` on macOS, iOS and the BSDs). The counterpart of the Swift
    /// library's `backendMethod`.
    ///
    /// ```
    /// let lp = event::EventLoop::new()?;
    /// assert!(["io_uring", "epoll", "kqueue", "poll"].contains(&lp.backend()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn backend(&self) -> &'static str {
        self.core.backend()
    }

    /// Counts of what the loop holds: a way to see that nothing leaks.
    ///
    /// ```
    /// let lp = event::EventLoop::new()?;
    /// lp.block_on(event::sleep(std::time::Duration::from_millis(1)));
    /// assert_eq!(lp.stats().timers, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let driver = self.core.driver.stats();
        Stats {
            sources: driver.sources,
            operations: driver.operations,
            timers: self.core.timers.borrow().len(),
            queued_tasks: self.core.local.with_queue(|q| q.len()),
        }
    }

    /// Spawns a task on this loop; it starts running at the next `block_on`.
    ///
    /// Unlike [`spawn`](crate::spawn) this works before the loop runs, from the loop's own
    /// thread. The future need not be `Send`.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.core.spawn(future)
    }

    /// A handle that other threads can use to spawn `Send` futures onto this loop.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle::new(self.core.shared.clone())
    }

    /// Runs the loop until `future` completes, and returns its output.
    ///
    /// Tasks spawned on the loop make progress while it runs; those still pending when `future`
    /// completes stay on the loop and continue at the next `block_on`.
    ///
    /// # Panics
    ///
    /// If called while a loop is already running on this thread (nesting would stall the outer
    /// loop), or if `future` itself panics. Panics inside spawned tasks do not reach here: their
    /// [`JoinHandle`] reports them.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = Enter::new(self.core.clone());
        let root = Arc::new(RootWaker {
            woken: AtomicBool::new(true),
            shared: self.core.shared.clone(),
        });
        let waker = Waker::from(root.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if root.woken.swap(false, Ordering::AcqRel) {
                coop::reset();
                let polled = future.as_mut().poll(&mut cx);
                coop::lift();
                if let Poll::Ready(out) = polled {
                    return out;
                }
            }
            self.core.tick(&root.woken);
        }
    }
}

/// What an [`EventLoop`] holds at one moment (see [`EventLoop::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sources registered with the readiness multiplexer (signal streams, and on epoll every
    /// connection and listener).
    pub sources: usize,
    /// io_uring operations in flight (0 on epoll): a multishot accept per accepting listener,
    /// a receive per connection being read, a send per write in progress, and cancelled ones
    /// not yet reaped.
    pub operations: usize,
    /// Timers armed (sleeps, timeouts, per-operation deadlines).
    pub timers: usize,
    /// Tasks ready to run.
    pub queued_tasks: usize,
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        self.core.shared.close();
        // Tasks hold the loop (through their sockets and timers) and the loop holds tasks (in its
        // queue and as stored wakers): drop the loop's side so the tasks are freed, on this
        // thread, with this loop current (another may be running: it is set aside meanwhile).
        let _current = SwapCurrent::new(self.core.clone());
        loop {
            let queued: Vec<Runnable> = self.core.local.with_queue(|q| q.drain(..).collect());
            let injected = self.core.shared.take_injected();
            let wakers = self.core.driver.take_wakers();
            let timers = self.core.timers.borrow_mut().take_wakers();
            // Tasks waiting on something outside the loop (another task's handle, a channel):
            // wake them so that their runnables land in the queue and are dropped next round.
            let mut live: Vec<Waker> = self.core.local.take_tasks();
            live.extend(self.core.shared.take_remote_wakers());
            for w in &live {
                w.wake_by_ref();
            }
            if queued.is_empty()
                && injected.is_empty()
                && wakers.is_empty()
                && timers.is_empty()
                && live.is_empty()
            {
                break;
            }
            drop((queued, injected, wakers, timers, live));
        }
    }
}

impl Core {
    pub(crate) fn backend(&self) -> &'static str {
        self.driver.name()
    }

    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.local.spawn(&self.shared, future)
    }

    /// The instant the loop last read the clock (when it fired timers): never after now, so
    /// "has this deadline passed?" can be answered without reading the clock when the answer is
    /// yes; when it says no, the caller arms a timer, and one whose deadline has passed since
    /// fires at the next turn. Never a base to compute a deadline from (it would fire early).
    #[inline]
    pub(crate) fn clock(&self) -> Instant {
        self.clock.get()
    }

    /// One turn: run the queued tasks (up to the budget), then poll I/O, then fire timers.
    fn tick(&self, root_woken: &AtomicBool) {
        let busy = self.local.run_queued();

        let busy = busy
            || root_woken.load(Ordering::Acquire)
            || self.shared.has_injected()
            || self.driver.has_pending();
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            self.timers.borrow().next_deadline().map(|d| {
                let now = Instant::now();
                self.clock.set(now);
                d.saturating_duration_since(now)
            })
        };
        let polled = self.driver.turn(timeout);
        match polled {
            Ok(woken) => {
                if woken || self.shared.has_injected() {
                    self.local.with_queue(|q| self.shared.drain_injected(q));
                }
            }
            // epoll_wait fails only on a programming error (EBADF, EFAULT, EINVAL). Back off
            // rather than spin; the tasks see nothing new this turn.
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
        if self.timers.borrow().len() > 0 {
            // Wake after the borrow ends: a waker that is not ours may run code that drops timers.
            let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
            let now = Instant::now();
            self.clock.set(now);
            self.timers.borrow_mut().process(now, &mut fired);
            for waker in fired.drain(..) {
                waker.wake();
            }
            *self.fired.borrow_mut() = fired;
        }
    }
}

/// The waker of the future passed to `block_on`: a flag, plus a poll wake-up when set from
/// another thread.
struct RootWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for RootWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if !local::is_running(self.shared.id) {
            self.shared.notify();
        }
    }
}

/// The driver of the event loop running on this thread (`"io_uring"`, `"epoll"`, `"kqueue"`),
/// like the Swift library's `backendMethod`; where no loop runs, the readiness multiplexer this
/// build falls back to (`"epoll"` on Linux, `"kqueue"` on macOS and the BSDs). A loop that is
/// built but not running: ask it with [`EventLoop::backend`].
///
/// ```
/// use event::{Backend, EventLoop};
///
/// let lp = EventLoop::builder().backend(Backend::Epoll).build()?;
/// assert_eq!(lp.block_on(async { event::backend() }), "epoll");
/// // Inside a loop on io_uring it says "io_uring"; outside any loop, the multiplexer:
/// println!("outside a loop: {}", event::backend());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn backend() -> &'static str {
    match current() {
        Some(core) => core.backend(),
        None => crate::driver::epoll::name(),
    }
}

/// Whether an event loop runs on the calling thread (inside [`run`] or
/// [`EventLoop::block_on`]): where [`spawn`](crate::spawn) and the sockets' operations can
/// work. Code that runs on other executors too (an adapter's timer, say) checks it first.
///
/// ```
/// assert!(!event::on_loop());
/// assert!(event::run(async { event::on_loop() }));
/// ```
pub fn on_loop() -> bool {
    CURRENT.try_with(|c| c.borrow().is_some()).unwrap_or(false)
}

/// Runs `future` to completion on a new event loop for the current thread: the one-line entry
/// point.
///
/// ```
/// let answer = event::run(async {
///     let worker = event::spawn(async { 21 * 2 });
///     worker.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// # Panics
///
/// If the multiplexer cannot be created (use [`EventLoop::new`] to handle that error), if a loop
/// is already running on this thread, or if `future` panics.
pub fn run<F: Future>(future: F) -> F::Output {
    let lp = match EventLoop::new() {
        Ok(lp) => lp,
        Err(e) => panic!("event::run: cannot create the event loop: {e}"),
    };
    lp.block_on(future)
}
