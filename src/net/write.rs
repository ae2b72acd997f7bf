//! The write futures of [`Socket`] and [`UnixSocket`](super::UnixSocket): `write` and
//! `write_owned`.
//!
//! Each poll takes the socket's write turn (held until every byte is taken, so writes from
//! several tasks never interleave), charges the task's cooperative budget, then asks the driver.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::conn::{Conn, StreamSocket};
use super::op::OpState;
use super::turn::{Ticket, Turn};
use super::{Socket, SocketError};
use crate::driver::Direction;
use crate::executor::coop;

/// The future of [`Socket::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: StreamSocket = Socket> {
    pub(super) socket: &'a Conn<T>,
    pub(super) buf: &'a [u8],
    pub(super) written: usize,
    pub(super) op: OpState,
}

impl<T: StreamSocket> Write<'_, T> {
    /// Gives up with [`SocketError::WriteTimeout`] (saying how many bytes went out) if the peer
    /// takes no byte for `timeout`. The clock restarts whenever bytes go out, so a large write
    /// to a slow but steady reader is not cut: only a stall is.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl<T: StreamSocket> Future for Write<'_, T> {
    type Output = Result<(), SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let socket = this.socket;
        ready!(socket.poll_begin(&socket.writing, &mut this.op, cx));
        let polled = socket.poll_write_all(cx, this.buf, &mut this.written, &mut this.op);
        let Poll::Ready(r) = polled else {
            // Part of the bytes may be out: no other write may come between them and the rest.
            socket.writing.hold(&mut this.op.ticket);
            return Poll::Pending;
        };
        socket.writing.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

/// The future of [`Socket::write_owned`]: the outcome and the vector.
#[must_use = "futures do nothing unless awaited"]
pub struct WriteOwned<'a, T: StreamSocket = Socket> {
    pub(super) socket: &'a Conn<T>,
    /// `None` while the driver holds the vector.
    pub(super) buf: Option<Vec<u8>>,
    pub(super) written: usize,
    pub(super) op: OpState,
}

impl<T: StreamSocket> WriteOwned<'_, T> {
    /// As [`Write::timeout`]: gives up if the peer takes no byte for `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl<T: StreamSocket> Future for WriteOwned<'_, T> {
    type Output = (Result<(), SocketError>, Vec<u8>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let socket = this.socket;
        ready!(socket.poll_begin(&socket.writing, &mut this.op, cx));
        let r = loop {
            let (buf, written) = (&mut this.buf, &mut this.written);
            let polled = this
                .op
                .poll_stream(&socket.stream, Direction::Write, cx, |cx| {
                    socket.stream.poll_write_owned(cx, buf, written)
                });
            let Poll::Ready(outcome) = polled else {
                socket.writing.hold(&mut this.op.ticket);
                return Poll::Pending;
            };
            match outcome {
                Ok(Ok(true)) => {
                    // On epoll the caller's own vector, on io_uring the previous send buffer.
                    let mut empty = this.buf.take().unwrap_or_default();
                    empty.clear();
                    break (Ok(()), empty);
                }
                Ok(Ok(false)) => this.op.progress(),
                outcome => {
                    let e = socket.write_failure(outcome.map(|r| r.map(drop)), this.written);
                    break (Err(e), this.buf.take().unwrap_or_default());
                }
            }
        };
        socket.writing.release(&mut this.op.ticket);
        Poll::Ready(r)
    }
}

impl<T: StreamSocket> Conn<T> {
    /// The write loop: the driver takes some bytes each time (on io_uring a chunk of them,
    /// write-behind), until every byte is taken; a timeout reports how many went out.
    #[inline]
    fn poll_write_all(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        written: &mut usize,
        op: &mut OpState,
    ) -> Poll<Result<(), SocketError>> {
        while *written < buf.len() {
            let rest = &buf[*written..];
            let polled = op.poll_stream(&self.stream, Direction::Write, cx, |cx| {
                self.stream.poll_write(cx, rest)
            });
            match ready!(polled) {
                Ok(Ok(n)) => {
                    *written += n;
                    op.progress();
                }
                outcome => {
                    return Poll::Ready(Err(
                        self.write_failure(outcome.map(|r| r.map(drop)), *written)
                    ));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// What a write that did not go through means: a timeout or an error (out of line, as for
    /// reads).
    #[cold]
    #[inline(never)]
    fn write_failure(
        &self,
        outcome: Result<io::Result<()>, Duration>,
        written: usize,
    ) -> SocketError {
        match outcome {
            Err(after) => T::timeout("write", &self.addr, after, written),
            Ok(Ok(())) => T::write_error(&self.addr, written, io::ErrorKind::WriteZero.into()),
            Ok(Err(source)) => T::write_error(&self.addr, written, source),
        }
    }

    /// A write future is dropped: withdraw its waiter if it holds the turn (bytes already taken
    /// go out whatever happens to the future), and give the turn on.
    #[cold]
    fn drop_write(&self, op: &mut OpState) {
        if op.take_waiting() && op.ticket == Ticket::HELD {
            self.stream.cancel_wait(Direction::Write);
        }
        self.writing.release(&mut op.ticket);
    }

    /// The start of every poll of an operation: wait for the operation's turn (taken for real
    /// only when the operation has to wait), then charge it to the task's cooperative budget
    /// (yielding, with nothing done, once that is spent).
    #[inline]
    pub(super) fn poll_begin(
        &self,
        turn: &Turn,
        op: &mut OpState,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if op.ticket == Ticket::HELD {
            // It waited before this poll (the task yielded then): no charge.
            return Poll::Ready(());
        }
        ready!(turn.poll_enter(&mut op.ticket, cx));
        coop::poll_proceed(cx)
    }
}

impl<T: StreamSocket> Drop for Write<'_, T> {
    fn drop(&mut self) {
        if !self.op.is_idle() {
            self.socket.drop_write(&mut self.op);
        }
    }
}

impl<T: StreamSocket> Drop for WriteOwned<'_, T> {
    fn drop(&mut self) {
        if !self.op.is_idle() {
            self.socket.drop_write(&mut self.op);
        }
    }
}
