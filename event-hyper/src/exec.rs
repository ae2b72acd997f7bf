//! `LocalExec`: hyper's executor on the current event loop.

use std::future::Future;

/// hyper's [`Executor`](hyper::rt::Executor) on the running event loop: every future (an
/// HTTP/2 stream, a connection's background task) becomes a detached [`event::spawn`]ed task on
/// the loop of the thread that calls it, so nothing needs to be `Send`.
///
/// ```
/// use hyper::rt::Executor;
/// event::run(async {
///     let (tx, rx) = std::sync::mpsc::channel();
///     event_hyper::LocalExec.execute(async move { tx.send(7).unwrap() });
///     event::yield_now().await;
///     assert_eq!(rx.recv().unwrap(), 7);
/// });
/// ```
///
/// # Panics
///
/// `execute` panics where no event loop runs on the calling thread (as [`event::spawn`] does).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        drop(event::spawn(future));
    }
}
