//! Task handles and panic capture.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_task::FallibleTask;

/// Why awaiting a [`JoinHandle`] gave no output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The task panicked; the panic message is kept. The loop and its other tasks carry on.
    #[error("task panicked: {0}")]
    Panicked(String),
    /// The task was dropped before it completed (its loop was dropped).
    #[error("task was cancelled before it completed")]
    Cancelled,
    /// [`try_spawn`](crate::try_spawn) was called on a thread where no event loop is running, so
    /// nothing was spawned. ([`spawn`](crate::spawn) panics there instead.)
    #[error(
        "no event loop is running on this thread: call spawn inside event::run(...) or EventLoop::block_on"
    )]
    NoEventLoop,
    /// The event loop for the task could not be created (see [`PerCore`](crate::PerCore)).
    #[error("the event loop could not be created: {0}")]
    LoopFailed(String),
}

/// A handle to a spawned task: await it for the output, [`cancel`](JoinHandle::cancel) it, or
/// drop it to let the task run on, detached.
///
/// ```
/// event::run(async {
///     let handle = event::spawn(async { 1 + 1 });
///     assert_eq!(handle.await, Ok(2));
/// });
/// ```
pub struct JoinHandle<T> {
    task: Option<FallibleTask<Result<T, String>>>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<Result<T, String>>) -> JoinHandle<T> {
        JoinHandle {
            task: Some(task.fallible()),
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Lets the task run to completion with nobody waiting for it (the same as dropping the
    /// handle, said out loud).
    pub fn detach(mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }

    /// Cancels the task: its future is dropped, releasing its sockets and timers, the next time
    /// the loop turns (before it polls for I/O again).
    ///
    /// The returned future resolves once the future has been dropped, with the output if the task
    /// had already completed. It need not be awaited: dropping it cancels too.
    ///
    /// ```
    /// event::run(async {
    ///     let handle = event::spawn(event::sleep(std::time::Duration::from_secs(3600)));
    ///     assert_eq!(handle.cancel().await, None);
    /// });
    /// ```
    pub fn cancel(mut self) -> impl Future<Output = Option<T>> + 'static
    where
        T: 'static,
    {
        let task = self.task.take();
        async move {
            match task {
                Some(task) => task.cancel().await.and_then(Result::ok),
                None => None,
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(Err(JoinError::NoEventLoop));
        };
        match Pin::new(task).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(Err(JoinError::Cancelled)),
            Poll::Ready(Some(Ok(v))) => Poll::Ready(Ok(v)),
            Poll::Ready(Some(Err(msg))) => Poll::Ready(Err(JoinError::Panicked(msg))),
        }
    }
}

pin_project_lite::pin_project! {
    /// Turns a panic in the task's poll into an error output, so it never unwinds into the loop.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        inner: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(inner: F) -> CatchUnwind<F> {
        CatchUnwind { inner }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(panic_message(payload))),
        }
    }
}

pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_string(),
            Err(_) => "non-string panic payload".to_string(),
        },
    }
}
