//! `Shutdown`: graceful shutdown for a server: stop accepting, let open connections finish up to
//! a deadline, cancel the rest, and say how it went.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use slab::Slab;

mod trigger;

pub use trigger::ShutdownTrigger;

use crate::executor::JoinHandle;
use crate::net::ServerSocket;

/// A listening socket [`Shutdown::close_on_trigger`] can close: [`ServerSocket`] (TCP) or
/// [`UnixServerSocket`](crate::UnixServerSocket). Sealed.
pub trait Listening: Clone + 'static + sealed::Sealed {
    /// Closes the listener (its `close`).
    fn close_listener(&self);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::ServerSocket {}
    impl Sealed for crate::UnixServerSocket {}
}

impl Listening for ServerSocket {
    fn close_listener(&self) {
        self.close();
    }
}

impl Listening for crate::UnixServerSocket {
    fn close_listener(&self) {
        self.close();
    }
}

/// Tracks a server's connection tasks and shuts them down gracefully.
///
/// Clones share the same state, so one task can [`trigger`](Shutdown::trigger) while another
/// accepts and a third [`drain`](Shutdown::drain)s.
///
/// ```
/// use std::time::Duration;
/// use event::{Shutdown, Socket, SocketAddress};
///
/// event::run(async {
///     let server = Socket::listen_on(SocketAddress::localhost(0))?;
///     let shutdown = Shutdown::new();
///     shutdown.close_on_trigger(&server);          // stop accepting at once
///     shutdown.trigger_on_signals(&[event::signal::SIGINT, event::signal::SIGTERM])?;
///
///     # shutdown.trigger(); // (so this example ends)
///     let mut connections = server.connections(); // ends when the listener closes
///     while let Some(client) = connections.next().await {
///         let client = client?;
///         shutdown.spawn(async move {
///             while let Ok(bytes) = client.read(4096).await {
///                 if client.write(&bytes).await.is_err() { break; }
///             }
///         });
///     }
///     let report = shutdown.drain(Duration::from_secs(10)).await;
///     println!("{report}");                         // "shutdown: 0 finished, 0 cut"
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The running tasks, each with the number it was spawned under: a slot is reused once a
    /// task is gone, and a late guard of a cut task must not take out its successor.
    tasks: RefCell<Slab<(u64, JoinHandle<()>)>>,
    spawned: Cell<u64>,
    triggered: Cell<bool>,
    finished_after_trigger: Cell<usize>,
    /// How to close each listener given to `close_on_trigger`.
    listeners: RefCell<Vec<Box<dyn Fn()>>>,
    /// Tasks waiting in `triggered()` or `drain()`.
    /// Tasks waiting for the trigger or for the tracked tasks to end, each under the key its
    /// `Waiting` holds (removed when that wait ends, so a connection that waited for the trigger
    /// and ended leaves nothing behind).
    waiters: RefCell<Slab<Waker>>,
    /// Tasks that trigger this shutdown (on a signal, on a `ShutdownTrigger`); cancelled when
    /// the drain ends.
    watchers: RefCell<Vec<JoinHandle<()>>>,
}

/// How a [`Shutdown::drain`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connection tasks that finished by themselves after the shutdown began.
    pub finished: usize,
    /// Connection tasks still running at the deadline, and cancelled.
    pub cut: usize,
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shutdown: {} finished, {} cut", self.finished, self.cut)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .field("tasks", &self.active())
            .finish()
    }
}

impl Shutdown {
    /// A new tracker, not triggered.
    ///
    /// ```
    /// let shutdown = event::Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// assert_eq!(shutdown.active(), 0);
    /// ```
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Spawns a tracked task on the current loop (see [`spawn`](crate::spawn)).
    ///
    /// # Panics
    ///
    /// If no event loop is running on this thread, as [`spawn`](crate::spawn) does.
    ///
    /// ```
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     shutdown.spawn(async { /* serve one connection */ });
    ///     let report = shutdown.drain(std::time::Duration::from_secs(1)).await;
    ///     assert_eq!((report.finished, report.cut), (1, 0)); // it ran to its end
    /// });
    /// ```
    #[track_caller]
    #[inline]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static,
    {
        let Some(core) = crate::event_loop::current() else {
            crate::executor::no_event_loop_panic("Shutdown::spawn");
        };
        let mut tasks = self.inner.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let done = Done {
            inner: self.inner.clone(),
            key: entry.key(),
            serial: self.inner.spawned.get(),
        };
        // The guard goes beside the future in the task's own wrapper (not an `async` block
        // around `future`, which would hold it twice, nor a wrapper of ours, which would copy
        // it twice more on its way into the task).
        let handle = core.local.spawn_with(&core.shared, future, done);
        entry.insert((self.inner.spawned.get(), handle));
        self.inner.spawned.set(self.inner.spawned.get() + 1);
    }

    /// How many tracked tasks are running.
    ///
    /// ```
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     shutdown.spawn(std::future::pending()); // a connection that never ends
    ///     assert_eq!(shutdown.active(), 1);
    ///     let report = shutdown.drain(std::time::Duration::from_millis(10)).await;
    ///     assert_eq!((report.cut, shutdown.active()), (1, 0));
    /// });
    /// ```
    pub fn active(&self) -> usize {
        self.inner.tasks.borrow().len()
    }

    /// Closes `server` when the shutdown is triggered, so no connection is accepted after that.
    ///
    /// ```
    /// let server = event::Socket::listen_on("127.0.0.1:0")?;
    /// let shutdown = event::Shutdown::new();
    /// shutdown.close_on_trigger(&server);
    /// shutdown.trigger();
    /// assert!(server.is_closed());
    /// # Ok::<(), event::SocketError>(())
    /// ```
    ///
    /// It takes a [`ServerSocket`] or a [`UnixServerSocket`](crate::UnixServerSocket).
    pub fn close_on_trigger(&self, server: &impl Listening) {
        if self.is_triggered() {
            server.close_listener();
        } else {
            let server = server.clone();
            self.inner
                .listeners
                .borrow_mut()
                .push(Box::new(move || server.close_listener()));
        }
    }

    /// Triggers the shutdown when one of `signals` arrives (see
    /// [`signal_stream`](crate::signal::signal_stream)). Needs a running loop.
    ///
    /// ```no_run
    /// use event::signal::{SIGINT, SIGTERM};
    ///
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     shutdown.trigger_on_signals(&[SIGINT, SIGTERM])?; // Ctrl-C or `kill` begins it
    ///     shutdown.triggered().await;
    ///     println!("{}", shutdown.drain(std::time::Duration::from_secs(10)).await);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn trigger_on_signals(&self, signals: &[i32]) -> io::Result<()> {
        let mut stream = crate::signal::signal_stream(signals)?;
        let this = self.clone();
        let task = crate::try_spawn(async move {
            if stream.next().await.is_some() {
                this.trigger();
            }
            // The stream is dropped here: a second signal gets the default action.
        })
        .map_err(|e| io::Error::other(e.to_string()))?;
        self.inner.watchers.borrow_mut().push(task);
        Ok(())
    }

    /// Triggers the shutdown when `trigger` fires, from any thread. One trigger can drive the
    /// shutdowns of several loops (see [`PerCore`](crate::PerCore)). Needs a running loop.
    ///
    /// ```
    /// let trigger = event::ShutdownTrigger::new();
    /// let remote = trigger.clone(); // Send: another thread (or loop) can fire it
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     shutdown.trigger_on(&trigger);
    ///     std::thread::spawn(move || remote.fire());
    ///     shutdown.triggered().await;
    /// });
    /// ```
    pub fn trigger_on(&self, trigger: &ShutdownTrigger) {
        let this = self.clone();
        let trigger = trigger.clone();
        if let Ok(task) = crate::try_spawn(async move {
            trigger.fired().await;
            this.trigger();
        }) {
            self.inner.watchers.borrow_mut().push(task);
        }
    }

    /// Begins the shutdown: closes the listeners given to
    /// [`close_on_trigger`](Shutdown::close_on_trigger) and wakes [`triggered`](Shutdown::triggered).
    /// Idempotent.
    ///
    /// ```
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     let server = event::Socket::listen_on("127.0.0.1:0")?;
    ///     shutdown.close_on_trigger(&server);
    ///     shutdown.trigger(); // say, on an admin request
    ///     assert!(server.accept().await.is_err()); // closed
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn trigger(&self) {
        if self.inner.triggered.replace(true) {
            return;
        }
        crate::trace::event!(info, tasks = self.active(), "shutdown triggered");
        let listeners = std::mem::take(&mut *self.inner.listeners.borrow_mut());
        for close in listeners {
            close();
        }
        self.inner.wake_all();
    }

    /// Whether the shutdown has begun.
    ///
    /// ```
    /// let shutdown = event::Shutdown::new();
    /// shutdown.trigger();
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.get()
    }

    /// Resolves once the shutdown has begun.
    ///
    /// A connection task can watch it to finish its current request and stop early:
    /// ```
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     let watch = shutdown.clone();
    ///     shutdown.spawn(async move {
    ///         watch.triggered().await; // (a real task would race this against its next read)
    ///     });
    ///     let report = shutdown.drain(std::time::Duration::from_secs(1)).await;
    ///     assert_eq!(report.finished, 1);
    /// });
    /// ```
    pub async fn triggered(&self) {
        let mut waiting = Waiting::new(&self.inner);
        poll_fn(|cx| {
            if self.is_triggered() {
                Poll::Ready(())
            } else {
                waiting.register(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// Triggers the shutdown (if not already), waits up to `deadline` for the tracked tasks to
    /// finish, cancels those still running, and reports both counts.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// event::run(async {
    ///     let shutdown = event::Shutdown::new();
    ///     shutdown.spawn(event::sleep(Duration::from_millis(5))); // finishes in time
    ///     shutdown.spawn(event::sleep(Duration::from_secs(60))); // does not
    ///     let report = shutdown.drain(Duration::from_millis(100)).await;
    ///     assert_eq!((report.finished, report.cut), (1, 1));
    ///     assert_eq!(report.to_string(), "shutdown: 1 finished, 1 cut");
    /// });
    /// ```
    pub async fn drain(&self, deadline: Duration) -> ShutdownReport {
        let until = std::time::Instant::now() + deadline;
        self.trigger();
        let mut waiting = Waiting::new(&self.inner);
        let all_done = poll_fn(|cx| {
            if self.inner.tasks.borrow().is_empty() {
                Poll::Ready(())
            } else {
                waiting.register(cx.waker());
                Poll::Pending
            }
        });
        let _ = crate::timeout(deadline, all_done).await;
        let remaining: Vec<(u64, JoinHandle<()>)> = self.inner.tasks.borrow_mut().drain().collect();
        let mut cut = 0;
        for (_, task) in remaining {
            // A task can still finish while earlier ones are being cancelled.
            match task.cancel().await {
                Some(()) => self.inner.count_finished(),
                None => cut += 1,
            }
        }
        let watchers = std::mem::take(&mut *self.inner.watchers.borrow_mut());
        for task in watchers {
            drop(task.cancel());
        }
        finish_lingering_sends(until).await;
        let report = ShutdownReport {
            finished: self.inner.finished_after_trigger.get(),
            cut,
        };
        crate::trace::event!(
            info,
            finished = report.finished,
            cut = report.cut,
            "shutdown drained"
        );
        report
    }
}

/// Bytes the finished and cut connections wrote may still be on their way in user space
/// (io_uring's write-behind): they get until the drain deadline, then go to the kernel or the
/// connection is reset, so the loop (and the process) can end right at the deadline.
async fn finish_lingering_sends(until: std::time::Instant) {
    let Some(core) = crate::event_loop::current() else {
        return;
    };
    while core.driver.lingering_sends() > 0 && std::time::Instant::now() < until {
        crate::sleep(Duration::from_millis(10)).await;
    }
    core.driver.give_up_lingering_sends();
}

/// Takes the task out of the tracker when its future is dropped: after it completed (counted
/// as finished if the shutdown had begun) or when it was cancelled (then `drain` has already
/// taken it out, and nothing is counted).
struct Done {
    inner: Rc<Inner>,
    key: usize,
    serial: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.inner.task_done(self.key, self.serial);
    }
}

/// One task's wait on a `Shutdown` (for the trigger, or for the tracked tasks to end): its waker
/// sits in the shutdown's `waiters` until the wait is dropped.
struct Waiting<'a> {
    inner: &'a Inner,
    key: Option<usize>,
}

impl<'a> Waiting<'a> {
    fn new(inner: &'a Inner) -> Waiting<'a> {
        Waiting { inner, key: None }
    }

    fn register(&mut self, waker: &Waker) {
        let mut waiters = self.inner.waiters.borrow_mut();
        match self.key.and_then(|k| waiters.get_mut(k)) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => *w = waker.clone(),
            None => self.key = Some(waiters.insert(waker.clone())),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key
            && let Ok(mut waiters) = self.inner.waiters.try_borrow_mut()
        {
            let waker = waiters.try_remove(key);
            drop(waiters);
            drop(waker);
        }
    }
}

impl Inner {
    fn task_done(&self, key: usize, serial: u64) {
        let Ok(mut tasks) = self.tasks.try_borrow_mut() else {
            return;
        };
        let handle = match tasks.get(key) {
            Some((s, _)) if *s == serial => Some(tasks.remove(key)),
            _ => None,
        };
        drop(tasks);
        if handle.is_some() && self.triggered.get() {
            self.count_finished();
        }
        drop(handle);
        if self.triggered.get() {
            self.wake_all();
        }
    }

    fn count_finished(&self) {
        self.finished_after_trigger
            .set(self.finished_after_trigger.get() + 1);
    }

    fn wake_all(&self) {
        // The entries stay: each wait removes its own when it ends.
        let waiters: Vec<Waker> = self
            .waiters
            .borrow()
            .iter()
            .map(|(_, w)| w.clone())
            .collect();
        for w in waiters {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Context;

    #[test]
    fn a_wait_for_the_trigger_that_ends_leaves_no_waker_behind() {
        let shutdown = Shutdown::new();
        for _ in 0..1000 {
            // A connection (a task of its own: its own waker) that waited for the trigger, then
            // ended by itself.
            let (_, waker) = crate::test_waker::counting_waker();
            let mut triggered = pin!(shutdown.triggered());
            assert!(
                triggered
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        assert_eq!(shutdown.inner.waiters.borrow().len(), 0);
        let (count, waker) = crate::test_waker::counting_waker();
        let mut live = pin!(shutdown.triggered());
        assert!(
            live.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        shutdown.trigger();
        assert_eq!(count.get(), 1, "a wait still going is woken");
        assert!(
            live.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        );
    }
}
