//! The run queue of the task-per-connection floors (`uring_tasks`, `mio_tasks`): tasks made by
//! `async_task::spawn_local` (the task crate `event` uses), woken into a thread-local queue that
//! the loop runs to empty once per turn.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::task::Waker;

thread_local! {
    /// Tasks woken and not yet run.
    static RUN_QUEUE: RefCell<VecDeque<async_task::Runnable>> = const { RefCell::new(VecDeque::new()) };
}

/// Starts `future` as a task of this thread (it first runs at the next `run_tasks`).
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    let schedule = |runnable| RUN_QUEUE.with(|q| q.borrow_mut().push_back(runnable));
    let (runnable, task) = async_task::spawn_local(future, schedule);
    task.detach();
    runnable.schedule();
}

/// Runs woken tasks until none is left (those woken meanwhile included).
pub fn run_tasks() {
    while let Some(runnable) = RUN_QUEUE.with(|q| q.borrow_mut().pop_front()) {
        runnable.run();
    }
}

/// Wakes the task waiting in `slot`, if any.
pub fn wake(slot: &Cell<Option<Waker>>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}
