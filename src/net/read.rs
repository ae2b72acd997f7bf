//! The read futures of [`Socket`] and [`UnixSocket`](super::UnixSocket): `read`, `read_into`,
//! `read_buf`.
//!
//! Each poll takes the socket's read turn, charges the task's cooperative budget, then asks the
//! driver; a read that times out or is dropped has consumed nothing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::conn::{Conn, StreamSocket};
use super::op::OpState;
use super::{Socket, SocketError};
use crate::driver::{Direction, ReadOutcome};

/// The future of [`Socket::read`] (and of [`UnixSocket::read`](super::UnixSocket::read)).
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: StreamSocket = Socket> {
    pub(super) socket: &'a Conn<T>,
    pub(super) max: usize,
    pub(super) op: OpState,
}

impl<T: StreamSocket> Future for Read<'_, T> {
    type Output = Result<Vec<u8>, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.max == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        let (socket, max) = (this.socket, this.max);
        // The result is sized to the data that arrived, not to `max_bytes`.
        socket.poll_read_op(&mut this.op, cx, |cx| {
            socket.stream.poll_read(cx, max, <[u8]>::to_vec)
        })
    }
}

/// The future of [`Socket::read_into`] (and [`UnixSocket::read_into`](super::UnixSocket::read_into)).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadInto<'a, T: StreamSocket = Socket> {
    pub(super) socket: &'a Conn<T>,
    pub(super) buf: &'a mut [u8],
    pub(super) op: OpState,
}

impl<T: StreamSocket> Future for ReadInto<'_, T> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let (socket, buf) = (this.socket, &mut *this.buf);
        socket.poll_read_op(&mut this.op, cx, |cx| socket.stream.poll_read_into(cx, buf))
    }
}

/// The future of [`Socket::read_buf`] (and [`UnixSocket::read_buf`](super::UnixSocket::read_buf)).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadBuf<'a, T: StreamSocket = Socket> {
    pub(super) socket: &'a Conn<T>,
    pub(super) buf: &'a mut Vec<u8>,
    pub(super) max: usize,
    pub(super) op: OpState,
}

impl<T: StreamSocket> Future for ReadBuf<'_, T> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.max == 0 {
            return Poll::Ready(Ok(0));
        }
        let (socket, buf, max) = (this.socket, &mut *this.buf, this.max);
        socket.poll_read_op(&mut this.op, cx, |cx| {
            socket.stream.poll_read_vec(cx, buf, max)
        })
    }
}

impl<T: StreamSocket> Conn<T> {
    /// One poll of a read: its turn, the budget, then `attempt` with the operation's timeout.
    /// On the bytes' path only the result travels; end of stream, timeouts and errors are built
    /// out of line.
    #[inline]
    fn poll_read_op<R>(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        attempt: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<ReadOutcome<R>>>,
    ) -> Poll<Result<R, SocketError>> {
        ready!(self.poll_begin(&self.reading, op, cx));
        let polled = op.poll_stream(&self.stream, Direction::Read, cx, attempt);
        let Poll::Ready(outcome) = polled else {
            self.reading.hold(&mut op.ticket);
            return Poll::Pending;
        };
        let r = match outcome {
            Ok(Ok(ReadOutcome::Data(r))) => Ok(r),
            Ok(Ok(ReadOutcome::Eof)) => Err(SocketError::ConnectionClosed),
            Ok(Err(e)) => Err(self.read_error(e)),
            Err(after) => Err(T::timeout("read", &self.addr, after, 0)),
        };
        self.reading.release(&mut op.ticket);
        Poll::Ready(r)
    }

    /// A read future is dropped while it waits or holds the turn: withdraw its waiter and give
    /// the turn on.
    #[cold]
    fn drop_read(&self, op: &mut OpState) {
        if op.take_waiting() {
            self.stream.cancel_wait(Direction::Read);
        }
        self.reading.release(&mut op.ticket);
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn read_error(&self, source: io::Error) -> SocketError {
        crate::trace::event!(debug, peer = %self.addr, error = %source, "read failed");
        T::read_error(&self.addr, source)
    }
}

/// A read future's `.timeout(d)`, and the drop that withdraws its waiter and gives its turn on.
macro_rules! read_future_common {
    ($($ty:ident),*) => {$(
        impl<T: StreamSocket> $ty<'_, T> {
            /// Gives up with [`SocketError::Timeout`] if no byte arrives within `timeout`.
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.op.timeout = Some(timeout);
                self
            }
        }

        impl<T: StreamSocket> Drop for $ty<'_, T> {
            fn drop(&mut self) {
                if !self.op.is_idle() {
                    self.socket.drop_read(&mut self.op);
                }
            }
        }
    )*};
}

read_future_common!(Read, ReadInto, ReadBuf);
