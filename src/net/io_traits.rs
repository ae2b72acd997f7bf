//! The standard async I/O traits for `Socket`: `futures-io` always, tokio's with the `tokio-io`
//! feature. In these traits end of stream is `Ok(0)`, as they require; the native API keeps
//! `SocketError::ConnectionClosed`. The socket's default timeouts
//! ([`set_read_timeout`](Socket::set_read_timeout), [`ListenOptions::idle_timeout`](crate::ListenOptions::idle_timeout))
//! apply here too: a read or write that waits longer fails with `io::ErrorKind::TimedOut`, so an
//! HTTP or TLS server on these traits drops stalled clients like a native one.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

use super::conn::{Conn, StreamSocket};
use super::op::OpState;
use super::turn::Turn;
use super::{Socket, UnixSocket};
use crate::driver::{Direction, ReadOutcome};
use crate::executor::coop;

/// The per-direction timeout state of trait I/O, allocated only for a socket with a default
/// timeout.
#[derive(Default)]
pub(crate) struct TraitOps {
    read: OpState,
    write: OpState,
}

/// The trait-level `OpState` of `direction`, made on first use, with the socket's timeout.
fn trait_op(
    ops: &mut Option<Box<TraitOps>>,
    direction: Direction,
    timeout: std::time::Duration,
) -> &mut OpState {
    let ops = ops.get_or_insert_with(Box::default);
    let op = match direction {
        Direction::Read => &mut ops.read,
        Direction::Write => &mut ops.write,
    };
    op.timeout = Some(timeout);
    op
}

impl<T: StreamSocket> Conn<T> {
    /// The start of a trait call: wait while a native operation holds the direction's turn,
    /// then charge the call to the task's cooperative budget.
    #[inline]
    fn poll_trait_begin(&self, turn: &Turn, cx: &mut Context<'_>) -> Poll<()> {
        ready!(turn.poll_free(cx));
        coop::poll_proceed(cx)
    }

    pub(crate) fn poll_read_io(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_trait_begin(&self.reading, cx));
        self.poll_trait(cx, Direction::Read, |cx| {
            self.stream.poll_read_into(cx, buf)
        })
        .map_ok(|outcome| match outcome {
            ReadOutcome::Data(n) => n,
            ReadOutcome::Eof => 0,
        })
    }

    /// `Socket::poll_read_uninit` (documented there).
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_trait_begin(&self.reading, cx));
        self.poll_trait(cx, Direction::Read, |cx| {
            self.stream.poll_read_uninit(cx, buf)
        })
        .map_ok(|outcome| match outcome {
            ReadOutcome::Data(n) => n,
            ReadOutcome::Eof => 0,
        })
    }

    pub(crate) fn poll_write_io(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // On io_uring the bytes are copied into a driver buffer and count as written (as with
        // a `BufWriter`); a send that later fails is reported by the next write or by flush.
        ready!(self.poll_trait_begin(&self.writing, cx));
        self.poll_trait(cx, Direction::Write, |cx| self.stream.poll_write(cx, buf))
    }

    pub(crate) fn poll_write_vectored_io(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_trait_begin(&self.writing, cx));
        self.poll_trait(cx, Direction::Write, |cx| {
            self.stream.poll_write_vectored(cx, bufs)
        })
    }

    /// The traits' flush: waits until the bytes already taken went to the kernel (io_uring's
    /// write-behind; on epoll they are there already), with the write timeout, and reports
    /// their send's failure.
    pub(crate) fn poll_flush_io(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.writing.poll_free(cx));
        self.poll_trait(cx, Direction::Write, |cx| self.stream.poll_flush(cx))
    }

    /// One trait-level operation: without a default timeout, straight to the driver; with
    /// one, through an `OpState` kept on the socket (the traits have no per-call state), whose
    /// clock restarts after every operation that completes. A timeout never cuts bytes already
    /// taken: a later write or flush waits for them, so the stream has no gap.
    fn poll_trait<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        attempt: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let timeout = match direction {
            Direction::Read => self.read_timeout(),
            Direction::Write => self.write_timeout(),
        };
        let Some(timeout) = timeout else {
            return attempt(cx);
        };
        let mut ops = self.trait_ops.borrow_mut();
        let op = trait_op(&mut ops, direction, timeout);
        let outcome = ready!(op.poll_stream(&self.stream, direction, cx, attempt));
        op.progress();
        Poll::Ready(match outcome {
            Ok(result) => result,
            Err(after) => Err(trait_timeout::<T>(direction, &self.addr, after)),
        })
    }

    /// The socket's default timeout for `direction` was turned off: the trait-level
    /// operation's deadline goes with its armed timer (`OpState::drop_deadline`). A trait call
    /// without a timeout never looks at that state again, so the timer would otherwise stay in
    /// the wheel and wake the task at the old deadline.
    pub(crate) fn trait_timeout_off(&self, direction: Direction) {
        // Never borrowed across an await; a failed borrow (none is possible) only leaves the
        // timer to fire once.
        if let Ok(mut ops) = self.trait_ops.try_borrow_mut()
            && let Some(ops) = ops.as_mut()
        {
            match direction {
                Direction::Read => ops.read.drop_deadline(),
                Direction::Write => ops.write.drop_deadline(),
            }
        }
    }

    /// The traits' close: flush, then shut the write side down.
    fn poll_close_io(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_flush_io(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(self.shutdown_io()),
            other => other,
        }
    }

    fn shutdown_io(&self) -> io::Result<()> {
        match self.shutdown_write() {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The `io::Error` of a trait operation that waited longer than the socket's default timeout
/// (a write through the traits reports 0 bytes: those of earlier calls were returned as
/// written).
#[cold]
#[inline(never)]
fn trait_timeout<T: StreamSocket>(
    direction: Direction,
    addr: &T::Addr,
    after: std::time::Duration,
) -> io::Error {
    let op = match direction {
        Direction::Read => "read",
        Direction::Write => "write",
    };
    T::timeout(op, addr, after, 0).into()
}

/// Implements futures-io's traits for `Socket` and for `&Socket` (so a socket shared by a reader
/// task and a writer task, through an `Rc`, can use both at once).
macro_rules! futures_io_impls {
    ($($ty:ty),*) => {$(
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.conn().poll_read_io(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.conn().poll_write_io(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.conn().poll_write_vectored_io(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.conn().poll_flush_io(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.conn().poll_close_io(cx)
            }
        }
    )*};
}

futures_io_impls!(Socket, &Socket, UnixSocket, &UnixSocket);

#[cfg(feature = "tokio-io")]
mod tokio_io {
    use super::*;
    use tokio::io::ReadBuf;

    fn poll_read_buf<T: StreamSocket>(
        socket: &Conn<T>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        match socket.poll_read_io(cx, unfilled) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    macro_rules! tokio_io_impls {
        ($($ty:ty),*) => {$(
            #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
            impl tokio::io::AsyncRead for $ty {
                fn poll_read(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &mut ReadBuf<'_>,
                ) -> Poll<io::Result<()>> {
                    poll_read_buf(self.conn(), cx, buf)
                }
            }

            #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
            impl tokio::io::AsyncWrite for $ty {
                fn poll_write(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &[u8],
                ) -> Poll<io::Result<usize>> {
                    self.conn().poll_write_io(cx, buf)
                }

                fn poll_write_vectored(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    bufs: &[IoSlice<'_>],
                ) -> Poll<io::Result<usize>> {
                    self.conn().poll_write_vectored_io(cx, bufs)
                }

                fn is_write_vectored(&self) -> bool {
                    true
                }

                fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                    self.conn().poll_flush_io(cx)
                }

                fn poll_shutdown(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                ) -> Poll<io::Result<()>> {
                    self.conn().poll_close_io(cx)
                }
            }
        )*};
    }

    tokio_io_impls!(Socket, &Socket, UnixSocket, &UnixSocket);
}
