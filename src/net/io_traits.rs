//! The standard async I/O traits for `Socket`: `futures-io` always, tokio's with the `tokio-io`
//! feature. In these traits end of stream is `Ok(0)`, as they require; the native API keeps
//! `SocketError::ConnectionClosed`. The socket's default timeouts
//! ([`set_read_timeout`](Socket::set_read_timeout), [`ListenOptions::idle_timeout`](crate::ListenOptions::idle_timeout))
//! apply here too: a read or write that waits longer fails with `io::ErrorKind::TimedOut`, so an
//! HTTP or TLS server on these traits drops stalled clients like a native one.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::op::{OpPoll, OpState};
use super::{Socket, SocketError};
use crate::reactor::Direction;

/// The per-direction timeout state of trait I/O, allocated only for a socket with a default
/// timeout.
#[derive(Default)]
pub(crate) struct TraitOps {
    read: OpState,
    write: OpState,
}

impl Socket {
    pub(crate) fn poll_read_io(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_trait_io(cx, Direction::Read, || self.try_read(buf))
    }

    pub(crate) fn poll_write_io(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_trait_io(cx, Direction::Write, || self.try_write(buf))
    }

    pub(crate) fn poll_write_vectored_io(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.poll_trait_io(cx, Direction::Write, || self.try_write_vectored(bufs))
    }

    /// One trait-level operation: without a default timeout, straight to the reactor; with one,
    /// through an `OpState` kept on the socket (the traits have no per-call state), whose clock
    /// restarts after every operation that completes.
    fn poll_trait_io(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        attempt: impl FnMut() -> io::Result<(usize, bool)>,
    ) -> Poll<io::Result<usize>> {
        let timeout = match direction {
            Direction::Read => self.read_timeout(),
            Direction::Write => self.write_timeout(),
        };
        let Some(timeout) = timeout else {
            return self.registration().poll_io(cx, direction, attempt);
        };
        let mut ops = self.trait_ops().borrow_mut();
        let ops = ops.get_or_insert_with(Box::default);
        let op = match direction {
            Direction::Read => &mut ops.read,
            Direction::Write => &mut ops.write,
        };
        op.timeout = Some(timeout);
        match op.poll(self.registration(), direction, cx, attempt) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(OpPoll::Done(result)) => {
                op.progress();
                Poll::Ready(result)
            }
            Poll::Ready(OpPoll::TimedOut(after)) => {
                op.progress();
                Poll::Ready(Err(SocketError::Timeout { after }.into()))
            }
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
                self.poll_read_io(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_io(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_io(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // No user-space buffer: every accepted byte is already with the kernel.
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown_io())
            }
        }
    )*};
}

futures_io_impls!(Socket, &Socket);

#[cfg(feature = "tokio-io")]
mod tokio_io {
    use super::*;
    use tokio::io::ReadBuf;

    fn poll_read_buf(
        socket: &Socket,
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
            impl tokio::io::AsyncRead for $ty {
                fn poll_read(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &mut ReadBuf<'_>,
                ) -> Poll<io::Result<()>> {
                    poll_read_buf(&self, cx, buf)
                }
            }

            impl tokio::io::AsyncWrite for $ty {
                fn poll_write(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &[u8],
                ) -> Poll<io::Result<usize>> {
                    self.poll_write_io(cx, buf)
                }

                fn poll_write_vectored(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    bufs: &[IoSlice<'_>],
                ) -> Poll<io::Result<usize>> {
                    self.poll_write_vectored_io(cx, bufs)
                }

                fn is_write_vectored(&self) -> bool {
                    true
                }

                fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                    Poll::Ready(Ok(()))
                }

                fn poll_shutdown(
                    self: Pin<&mut Self>,
                    _cx: &mut Context<'_>,
                ) -> Poll<io::Result<()>> {
                    Poll::Ready(self.shutdown_io())
                }
            }
        )*};
    }

    tokio_io_impls!(Socket, &Socket);
}
