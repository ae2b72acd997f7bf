//! The futures of a listener: [`Accept`] (one connection) and [`Connections`] (the stream of
//! them), generic over the socket kind like `Listener`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::conn::StreamSocket;
use super::listener::Listener;
use super::op::OpState;
use super::{Socket, SocketError};
use crate::time::Deadline;

/// The future of [`ServerSocket::accept`](crate::ServerSocket::accept) (and of
/// [`UnixServerSocket::accept`](crate::UnixServerSocket::accept): `Accept<'_, UnixSocket>`).
#[must_use = "futures do nothing unless awaited"]
pub struct Accept<'a, T: StreamSocket = Socket> {
    pub(super) listener: &'a Listener<T>,
    pub(super) op: AcceptState,
}

/// An accept's timeout and waiter, plus its pause after running out of descriptors.
#[derive(Default)]
pub(crate) struct AcceptState {
    pub(super) op: OpState,
    pub(super) pause: Option<Deadline>,
    /// The listener's `epoch` when this accept last polled (its waiter is on that registration).
    pub(super) epoch: u32,
}

impl<T: StreamSocket> Accept<'_, T> {
    /// Gives up with [`SocketError::Timeout`] if no connection arrives within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.op.timeout = Some(timeout);
        self
    }
}

impl<T: StreamSocket> Future for Accept<'_, T> {
    type Output = Result<T, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.listener.poll_accept(&mut this.op, cx)
    }
}

impl<T: StreamSocket> Drop for Accept<'_, T> {
    fn drop(&mut self) {
        self.listener.cancel(&mut self.op);
    }
}

/// The stream of [`ServerSocket::connections`](crate::ServerSocket::connections) (and of
/// [`UnixServerSocket::connections`](crate::UnixServerSocket::connections):
/// `Connections<UnixSocket>`).
#[must_use = "streams do nothing unless polled"]
pub struct Connections<T: StreamSocket = Socket> {
    pub(super) listener: Rc<Listener<T>>,
    pub(super) op: AcceptState,
}

impl<T: StreamSocket> fmt::Debug for Connections<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("local", &self.listener.local)
            .finish()
    }
}

impl<T: StreamSocket> Connections<T> {
    /// The next connection, or `None` once the listener is closed. (The same as
    /// `StreamExt::next`, without needing an extension trait.)
    pub async fn next(&mut self) -> Option<Result<T, SocketError>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl<T: StreamSocket> futures_core::Stream for Connections<T> {
    type Item = Result<T, SocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.listener.poll_accept(&mut this.op, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(SocketError::Closed)) => Poll::Ready(None),
            Poll::Ready(r) => Poll::Ready(Some(r)),
        }
    }
}

impl<T: StreamSocket> Drop for Connections<T> {
    fn drop(&mut self) {
        self.listener.cancel(&mut self.op);
    }
}
