//! The executor's local half: a loop's run queue and the registry of its tasks.
//!
//! While a loop runs, its run queue lives in a thread-local tagged with the loop's id (`install`
//! moves it there, `park` back), so a wake-up on the loop's thread (one per message on a busy
//! server) is one thread-local access, an id check and a push; a wake-up from anywhere else goes
//! through the loop's `Shared` injection queue. Every task also leaves a waker in the registry,
//! so dropping the loop can wake and cancel every live task, even one that waits on something
//! outside the loop.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_task::Runnable;
use slab::Slab;

use super::{CatchUnwind, JoinHandle, Shared, coop};

/// Tasks run per turn before the loop polls for I/O and timers again, so a task that is always
/// ready cannot starve them.
const TASKS_PER_TURN: usize = 256;

thread_local! {
    /// The run queue of the loop running on this thread.
    static RUN_QUEUE: RunQueue = const {
        RunQueue {
            owner: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
        }
    };
}

/// The thread's run queue and the id of the loop that owns it (0: none).
struct RunQueue {
    owner: Cell<usize>,
    queue: RefCell<VecDeque<Runnable>>,
}

/// Queues `runnable` on the loop identified by `id` if that loop is running on this thread;
/// otherwise gives it back.
#[inline]
pub(crate) fn schedule_local(id: usize, runnable: Runnable) -> Option<Runnable> {
    let mut runnable = Some(runnable);
    // `try_with` fails only while the thread's thread-locals are being destroyed: the caller
    // then injects the task.
    let _ = RUN_QUEUE.try_with(|r| {
        if r.owner.get() == id
            && let Some(runnable) = runnable.take()
        {
            r.queue.borrow_mut().push_back(runnable);
        }
    });
    runnable
}

/// Whether the loop identified by `id` is running on this thread.
pub(crate) fn is_running(id: usize) -> bool {
    RUN_QUEUE.try_with(|r| r.owner.get() == id).unwrap_or(false)
}

/// One loop's local half: its run queue while it is not running, and its task registry.
pub(crate) struct Local {
    id: usize,
    queue: RefCell<VecDeque<Runnable>>,
    tasks: Rc<RefCell<Slab<Waker>>>,
    /// The run queue is in the thread's slot: the loop is the one running on this thread.
    installed: Cell<bool>,
}

impl Local {
    pub(crate) fn new(id: usize) -> Local {
        Local {
            id,
            queue: RefCell::new(VecDeque::with_capacity(256)),
            tasks: Rc::new(RefCell::new(Slab::new())),
            installed: Cell::new(false),
        }
    }

    /// Whether this loop runs on this thread now (between `install` and `park`).
    #[inline]
    pub(crate) fn is_installed(&self) -> bool {
        self.installed.get()
    }

    /// Moves the run queue into the thread's slot: wake-ups on this thread now push to it. (If
    /// the thread-local is gone, in the thread's teardown, the queue stays here: wake-ups then
    /// go through the injection queue.)
    pub(crate) fn install(&self) {
        let _ = RUN_QUEUE.try_with(|r| {
            std::mem::swap(&mut *r.queue.borrow_mut(), &mut *self.queue.borrow_mut());
            r.owner.set(self.id);
            self.installed.set(true);
        });
    }

    /// Takes the run queue back from the thread's slot (the loop stops running here).
    pub(crate) fn park(&self) {
        let _ = RUN_QUEUE.try_with(|r| {
            if r.owner.get() == self.id {
                r.owner.set(0);
                self.installed.set(false);
                std::mem::swap(&mut *r.queue.borrow_mut(), &mut *self.queue.borrow_mut());
            }
        });
    }

    /// Runs `f` on the run queue, wherever it lives at the moment.
    pub(crate) fn with_queue<R>(&self, f: impl FnOnce(&mut VecDeque<Runnable>) -> R) -> R {
        if is_running(self.id) {
            RUN_QUEUE.with(|r| f(&mut r.queue.borrow_mut()))
        } else {
            f(&mut self.queue.borrow_mut())
        }
    }

    /// Runs the tasks queued at the start of the call, at most `TASKS_PER_TURN`, each with a
    /// fresh cooperative budget; returns whether tasks are still queued.
    pub(crate) fn run_queued(&self) -> bool {
        // The loop is running, so its queue is the thread's (unless the thread-local is gone:
        // then it stayed here).
        match RUN_QUEUE.try_with(|r| (r.owner.get() == self.id).then(|| run(&r.queue))) {
            Ok(Some(busy)) => busy,
            _ => run(&self.queue),
        }
    }

    /// Spawns `future` as a task of this loop, scheduled through `shared`.
    pub(crate) fn spawn<F>(&self, shared: &Arc<Shared>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_with(shared, future, ())
    }

    /// `spawn`, with `extra` kept beside the future and dropped right after it (`Shutdown`'s
    /// guard): one wrapper instead of two, so the future is copied once fewer on its way into
    /// the task (each copy of a connection's future is ~120 instructions).
    #[inline]
    pub(crate) fn spawn_with<F, D>(
        &self,
        shared: &Arc<Shared>,
        future: F,
        extra: D,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
        D: 'static,
    {
        let shared = shared.clone();
        let key = self.tasks.borrow().vacant_key();
        let guard = TaskGuard {
            tasks: self.tasks.clone(),
            key,
        };
        let future = Tracked {
            inner: CatchUnwind::new(future),
            _extra: extra,
            _guard: guard,
        };
        let (runnable, task) =
            async_task::spawn_local(future, move |runnable| shared.schedule(runnable));
        self.tasks.borrow_mut().insert(runnable.waker());
        runnable.schedule();
        JoinHandle::new(task)
    }

    /// Takes a waker of every live task (the loop is being dropped).
    pub(crate) fn take_tasks(&self) -> Vec<Waker> {
        self.tasks.borrow_mut().drain().collect()
    }
}

fn run(queue: &RefCell<VecDeque<Runnable>>) -> bool {
    let n = queue.borrow().len().min(TASKS_PER_TURN);
    for _ in 0..n {
        let next = queue.borrow_mut().pop_front();
        match next {
            Some(runnable) => {
                coop::reset();
                runnable.run();
            }
            None => break,
        }
    }
    coop::lift();
    !queue.borrow().is_empty()
}

pin_project_lite::pin_project! {
    /// A task's future, with the guard that takes it out of the loop's registry when the future
    /// is dropped (completed or cancelled); `_extra` is dropped between the two.
    struct Tracked<F, D> {
        #[pin]
        inner: F,
        _extra: D,
        _guard: TaskGuard,
    }
}

impl<F: Future, D> Future for Tracked<F, D> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

struct TaskGuard {
    tasks: Rc<RefCell<Slab<Waker>>>,
    key: usize,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        // Drop the waker after the borrow ends. (During the loop's teardown the registry has
        // been drained already and holds nothing for this key.)
        let waker = match self.tasks.try_borrow_mut() {
            Ok(mut tasks) => tasks.try_remove(self.key),
            Err(_) => None,
        };
        drop(waker);
    }
}
