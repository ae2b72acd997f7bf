//! The read futures of [`Socket`]: `read`, `read_into`, `read_buf`.
//!
//! Each poll takes the socket's read turn, charges the task's cooperative budget, then asks the
//! driver; a read that times out or is dropped has consumed nothing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::op::OpState;
use super::{Socket, SocketError};
use crate::driver::{Direction, ReadOutcome};

/// The future of [`Socket::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a> {
    pub(super) socket: &'a Socket,
    pub(super) max: usize,
    pub(super) op: OpState,
}

impl Future for Read<'_> {
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

/// The future of [`Socket::read_into`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadInto<'a> {
    pub(super) socket: &'a Socket,
    pub(super) buf: &'a mut [u8],
    pub(super) op: OpState,
}

impl Future for ReadInto<'_> {
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

/// The future of [`Socket::read_buf`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadBuf<'a> {
    pub(super) socket: &'a Socket,
    pub(super) buf: &'a mut Vec<u8>,
    pub(super) max: usize,
    pub(super) op: OpState,
}

impl Future for ReadBuf<'_> {
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

impl Socket {
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
            Err(after) => Err(SocketError::read_timeout(self.peer, after)),
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
        crate::trace::event!(debug, peer = %self.peer, error = %source, "read failed");
        SocketError::Read {
            peer: self.peer,
            source,
        }
    }
}

/// A read future's `.timeout(d)`, and the drop that withdraws its waiter and gives its turn on.
macro_rules! read_future_common {
    ($($ty:ident),*) => {$(
        impl $ty<'_> {
            /// Gives up with [`SocketError::Timeout`] if no byte arrives within `timeout`.
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.op.timeout = Some(timeout);
                self
            }
        }

        impl Drop for $ty<'_> {
            fn drop(&mut self) {
                if !self.op.is_idle() {
                    self.socket.drop_read(&mut self.op);
                }
            }
        }
    )*};
}

read_future_common!(Read, ReadInto, ReadBuf);
