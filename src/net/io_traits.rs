//! The standard async I/O traits for `Socket`: `futures-io` always, tokio's with the `tokio-io`
//! feature. In these traits end of stream is `Ok(0)`, as they require; the native API keeps
//! `SocketError::ConnectionClosed`. The socket's default timeouts
//! ([`set_read_timeout`](Socket::set_read_timeout), [`ListenOptions::idle_timeout`](crate::ListenOptions::idle_timeout))
//! apply here too: a read or write that waits longer fails with `io::ErrorKind::TimedOut`, so an
//! HTTP or TLS server on these traits drops stalled clients like a native one.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncRead, AsyncWrite};

use super::op::{OpPoll, OpState};
use super::stream::Driver;
use super::turn::Turn;
use super::{Socket, SocketError};
use crate::executor::coop;
use crate::reactor::Direction;

/// The per-direction timeout state of trait I/O, allocated only for a socket with a default
/// timeout.
#[derive(Default)]
pub(crate) struct TraitOps {
    read: OpState,
    write: OpState,
    /// io_uring: the driver's send progress count when last seen.
    ring_progress: u32,
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

impl Socket {
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
        #[cfg(target_os = "linux")]
        if let Driver::Ring(r) = self.driver() {
            use crate::uring::ReadOutcome;
            let polled = r.conn.poll_read(&r.uring, cx, buf.len(), |bytes| {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            });
            return match polled {
                Poll::Ready(Ok(ReadOutcome::Data(n))) => self.trait_done(Direction::Read, Ok(n)),
                Poll::Ready(Ok(ReadOutcome::Eof)) => self.trait_done(Direction::Read, Ok(0)),
                Poll::Ready(Err(e)) => self.trait_done(Direction::Read, Err(e)),
                Poll::Pending => self.trait_wait(cx, Direction::Read),
            };
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
        ready!(self.poll_trait_begin(&self.writing, cx));
        #[cfg(target_os = "linux")]
        if let Driver::Ring(r) = self.driver() {
            // Write-behind: the bytes are copied into a driver buffer and count as written (as
            // with a `BufWriter`); a send that later fails is reported by the next write or by
            // flush. One send is in flight at a time, so a peer that does not read stalls the
            // writer here.
            return self.poll_ring_write(cx, r, &[IoSlice::new(buf)]);
        }
        self.poll_trait_io(cx, Direction::Write, || self.try_write(buf))
    }

    #[cfg(target_os = "linux")]
    fn poll_ring_write(
        &self,
        cx: &mut Context<'_>,
        r: &super::stream::RingIo,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match r.conn.poll_write_behind(&r.uring, cx, bufs) {
            Poll::Ready(Ok(n)) => self.trait_done(Direction::Write, Ok(n)),
            Poll::Ready(Err(errno)) => {
                self.trait_done(Direction::Write, Err(io::Error::from_raw_os_error(errno)))
            }
            Poll::Pending => {
                self.note_send_progress(r);
                self.trait_wait(cx, Direction::Write)
            }
        }
    }

    /// The traits' flush: on io_uring, waits until the send in flight completed (with the
    /// write timeout) and reports its failure; on epoll there is nothing to wait for.
    pub(crate) fn poll_flush_io(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(target_os = "linux")]
        if let Driver::Ring(_) = self.driver() {
            return self.poll_ring_flush(cx);
        }
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    #[cfg(target_os = "linux")]
    fn poll_ring_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Driver::Ring(r) = self.driver() else {
            return Poll::Ready(Ok(()));
        };
        ready!(self.writing.poll_free(cx));
        match r.conn.poll_previous_send(cx) {
            Poll::Ready(Err(errno)) => {
                self.trait_done(Direction::Write, Err(io::Error::from_raw_os_error(errno)))
            }
            Poll::Ready(Ok(())) => self.trait_done(Direction::Write, Ok(())),
            Poll::Pending => {
                // The bytes in flight were reported written: a timeout says so, but the send
                // goes on (a later write or flush waits for it), so the stream has no gap.
                self.note_send_progress(r);
                self.trait_wait::<()>(cx, Direction::Write)
            }
        }
    }

    /// A send that moved restarts the trait write's stall timeout.
    #[cfg(target_os = "linux")]
    fn note_send_progress(&self, r: &super::stream::RingIo) {
        let progress = r.conn.send_progress();
        if let Some(ops) = self.trait_ops().borrow_mut().as_mut()
            && ops.ring_progress != progress
        {
            ops.ring_progress = progress;
            ops.write.progress();
        }
    }

    /// A trait operation on io_uring completed: its timeout clock starts again.
    #[cfg(target_os = "linux")]
    fn trait_done<T>(&self, direction: Direction, result: io::Result<T>) -> Poll<io::Result<T>> {
        if let Some(ops) = self.trait_ops().borrow_mut().as_mut() {
            match direction {
                Direction::Read => ops.read.progress(),
                Direction::Write => ops.write.progress(),
            }
        }
        Poll::Ready(result)
    }

    /// A trait operation on io_uring waits: `Pending`, or a timeout error once the socket's
    /// default timeout for `direction` has passed.
    #[cfg(target_os = "linux")]
    fn trait_wait<T>(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<io::Result<T>> {
        let timeout = match direction {
            Direction::Read => self.read_timeout(),
            Direction::Write => self.write_timeout(),
        };
        let Some(timeout) = timeout else {
            return Poll::Pending;
        };
        let core = match self.driver() {
            Driver::Ring(r) => r.core.clone(),
            Driver::Poll(reg) => reg.core().clone(),
        };
        let mut ops = self.trait_ops().borrow_mut();
        let op = trait_op(&mut ops, direction, timeout);
        match op.poll_deadline(&core, cx) {
            Some(after) => {
                op.progress();
                self.cancel_wait(direction);
                Poll::Ready(Err(SocketError::trait_timeout(
                    direction == Direction::Write,
                    self.peer_address().into(),
                    after,
                )))
            }
            None => Poll::Pending,
        }
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
        #[cfg(target_os = "linux")]
        if let Driver::Ring(r) = self.driver() {
            return self.poll_ring_write(cx, r, bufs);
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
        let reg = match self.driver() {
            Driver::Poll(reg) => reg,
            #[cfg(target_os = "linux")]
            // (io_uring sockets take their own path before reaching here.)
            Driver::Ring(_) => return Poll::Ready(Err(io::ErrorKind::Unsupported.into())),
        };
        let Some(timeout) = timeout else {
            return reg.poll_io(cx, direction, attempt);
        };
        let mut ops = self.trait_ops().borrow_mut();
        let op = trait_op(&mut ops, direction, timeout);
        match op.poll(reg, direction, cx, attempt) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(OpPoll::Done(result)) => {
                op.progress();
                Poll::Ready(result)
            }
            Poll::Ready(OpPoll::TimedOut(after)) => {
                op.progress();
                Poll::Ready(Err(SocketError::trait_timeout(
                    direction == Direction::Write,
                    self.peer_address().into(),
                    after,
                )))
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

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_flush_io(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_close_io(cx)
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
            #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
            impl tokio::io::AsyncRead for $ty {
                fn poll_read(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &mut ReadBuf<'_>,
                ) -> Poll<io::Result<()>> {
                    poll_read_buf(&self, cx, buf)
                }
            }

            #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
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

                fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                    self.poll_flush_io(cx)
                }

                fn poll_shutdown(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                ) -> Poll<io::Result<()>> {
                    self.poll_close_io(cx)
                }
            }
        )*};
    }

    tokio_io_impls!(Socket, &Socket);
}
