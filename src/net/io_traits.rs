//! The standard async I/O traits for `Socket`: `futures-io` always, tokio's with the `tokio-io`
//! feature. In these traits end of stream is `Ok(0)`, as they require; the native API keeps
//! `SocketError::ConnectionClosed`. The socket's default timeouts do not apply here: wrap the
//! operation in [`timeout`](crate::timeout) instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::Socket;
use crate::reactor::Direction;

impl Socket {
    pub(crate) fn poll_read_io(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.registration()
            .poll_io(cx, Direction::Read, || self.try_read(buf))
    }

    pub(crate) fn poll_write_io(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.registration()
            .poll_io(cx, Direction::Write, || self.try_write(buf))
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
