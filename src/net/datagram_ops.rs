//! The futures of the datagram sockets ([`UdpSocket`](super::UdpSocket),
//! [`UnixDatagram`](super::UnixDatagram)): `recv_from`, `recv`, `send_to`, `send`, and the
//! [`Datagrams`] stream, generic over the socket type.
//!
//! Each poll takes the socket's turn for its direction (net/turn.rs), charges the task's
//! cooperative budget (executor/coop.rs), then asks the driver through the one timeout
//! protocol (net/op.rs): a receive that times out or is dropped has consumed nothing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::datagram::{DatagramCore, DatagramSocket, Dest};
use super::op::OpState;
use super::turn::{Ticket, Turn};
use super::{SocketError, UdpSocket};
use crate::driver::{DatagramIo, Direction, Received};
use crate::executor::coop;
use crate::time::Deadline;

/// The future of [`UdpSocket::recv_from`] (and of
/// [`UnixDatagram::recv_from`](super::UnixDatagram::recv_from)): the datagram's length and its
/// sender.
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFrom<'a, T: DatagramSocket = UdpSocket> {
    pub(super) socket: &'a DatagramCore<T>,
    pub(super) buf: &'a mut [u8],
    pub(super) op: OpState,
}

impl<T: DatagramSocket> RecvFrom<'_, T> {
    /// Gives up with a timeout error ([`SocketError::Timeout`], or
    /// [`SocketError::UnixTimeout`]) if no datagram arrives within `timeout` (nothing is
    /// consumed: a datagram arriving later waits for the next receive).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl<T: DatagramSocket> Future for RecvFrom<'_, T> {
    type Output = Result<(usize, T::Address), SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.socket.poll_recv_op(&mut this.op, cx, this.buf, false)
    }
}

impl<T: DatagramSocket> Drop for RecvFrom<'_, T> {
    fn drop(&mut self) {
        self.socket.drop_op(&mut self.op, Direction::Read);
    }
}

/// The future of [`UdpSocket::recv`] (and of [`UnixDatagram::recv`](super::UnixDatagram::recv)):
/// the length of a datagram from the connected peer.
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T: DatagramSocket = UdpSocket> {
    pub(super) inner: RecvFrom<'a, T>,
}

impl<T: DatagramSocket> Recv<'_, T> {
    /// As [`RecvFrom::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner.op.timeout = Some(timeout);
        self
    }
}

impl<T: DatagramSocket> Future for Recv<'_, T> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut self.inner;
        this.socket
            .poll_recv_op(&mut this.op, cx, this.buf, true)
            .map_ok(|(n, _)| n)
    }
}

/// The future of [`UdpSocket::send_to`] (and of
/// [`UnixDatagram::send_to`](super::UnixDatagram::send_to)): the datagram's length once the
/// kernel took it.
#[must_use = "futures do nothing unless awaited"]
pub struct SendTo<'a, T: DatagramSocket = UdpSocket> {
    pub(super) socket: &'a DatagramCore<T>,
    pub(super) buf: &'a [u8],
    /// `None`: the connected peer.
    pub(super) to: Option<Dest<T>>,
    /// A destination that could not be made (a path too long): the first poll fails with it.
    /// Boxed: a rare error, and an inline `SocketError` would more than double the future
    /// that every send moves into its task.
    pub(super) invalid: Option<Box<SocketError>>,
    pub(super) op: OpState,
}

impl<T: DatagramSocket> SendTo<'_, T> {
    /// A send that fails with `error` when polled.
    pub(super) fn fail_with(mut self, error: SocketError) -> Self {
        self.invalid = Some(Box::new(error));
        self
    }
}

impl<T: DatagramSocket> SendTo<'_, T> {
    /// Gives up with a timeout error ([`SocketError::WriteTimeout`] with `written: 0`, or
    /// [`SocketError::UnixTimeout`]) if the socket's buffer has no room for the datagram within
    /// `timeout`; nothing was sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl<T: DatagramSocket> Future for SendTo<'_, T> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(e) = this.invalid.take() {
            return Poll::Ready(Err(*e));
        }
        this.socket
            .poll_send_op(&mut this.op, cx, this.buf, this.to.as_ref())
    }
}

impl<T: DatagramSocket> Drop for SendTo<'_, T> {
    fn drop(&mut self) {
        self.socket.drop_op(&mut self.op, Direction::Write);
    }
}

/// The future of [`UdpSocket::send`] (and of [`UnixDatagram::send`](super::UnixDatagram::send)):
/// the datagram's length once the kernel took it.
#[must_use = "futures do nothing unless awaited"]
pub struct SendDatagram<'a, T: DatagramSocket = UdpSocket> {
    pub(super) inner: SendTo<'a, T>,
}

impl<T: DatagramSocket> SendDatagram<'_, T> {
    /// As [`SendTo::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner.op.timeout = Some(timeout);
        self
    }
}

impl<T: DatagramSocket> Future for SendDatagram<'_, T> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// The stream of [`UdpSocket::datagrams`] (and of
/// [`UnixDatagram::datagrams`](super::UnixDatagram::datagrams)): each received datagram and
/// its sender, or the error of one receive. It never ends by itself; drop it to stop (a
/// receive in progress then consumed nothing).
#[must_use = "streams do nothing unless polled"]
pub struct Datagrams<'a, T: DatagramSocket = UdpSocket> {
    socket: &'a DatagramCore<T>,
    buf: Box<[u8]>,
    op: OpState,
}

impl<'a, T: DatagramSocket> Datagrams<'a, T> {
    pub(super) fn new(socket: &'a DatagramCore<T>, max_len: usize) -> Datagrams<'a, T> {
        Datagrams {
            socket,
            buf: vec![0; max_len].into_boxed_slice(),
            op: OpState::new(socket.recv_timeout()),
        }
    }

    /// The next datagram (`Stream::poll_next` as a future; never `None`).
    pub async fn next(&mut self) -> Option<Result<(Vec<u8>, T::Address), SocketError>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl<T: DatagramSocket> futures_core::Stream for Datagrams<'_, T> {
    type Item = Result<(Vec<u8>, T::Address), SocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let r = ready!(
            this.socket
                .poll_recv_op(&mut this.op, cx, &mut this.buf, false)
        );
        // The next datagram is a new operation: a fresh timeout.
        this.op = OpState::new(this.socket.recv_timeout());
        Poll::Ready(Some(r.map(|(n, from)| (this.buf[..n].to_vec(), from))))
    }
}

impl<T: DatagramSocket> Drop for Datagrams<'_, T> {
    fn drop(&mut self) {
        self.socket.drop_op(&mut self.op, Direction::Read);
    }
}

impl<T: DatagramSocket> DatagramCore<T> {
    /// One poll of a receive: its turn, the budget, then the driver with the timeout.
    fn poll_recv_op(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        connected: bool,
    ) -> Poll<Result<(usize, T::Address), SocketError>> {
        if connected && self.peer.borrow().is_none() {
            return Poll::Ready(Err(not_connected(T::RECV_UNCONNECTED)));
        }
        ready!(poll_begin(&self.reading, op, cx));
        let dgram = &self.dgram;
        let polled = op.poll_datagram(dgram, Direction::Read, cx, |cx| {
            if connected {
                dgram.poll_recv(cx, buf)
            } else {
                dgram.poll_recv_from(cx, buf)
            }
        });
        let Poll::Ready(outcome) = polled else {
            self.reading.hold(&mut op.ticket);
            return Poll::Pending;
        };
        let peer = self.peer.borrow();
        let r = match outcome {
            Ok(Ok(got)) => self.received(got, buf.len()),
            Ok(Err(e)) => Err(recv_error::<T>(&self.local, peer.as_ref(), e)),
            Err(after) => Err(T::recv_timeout(&self.local, peer.as_ref(), after)),
        };
        drop(peer);
        self.reading.release(&mut op.ticket);
        Poll::Ready(r)
    }

    #[inline]
    fn received(
        &self,
        got: Received<super::datagram::Sender<T>>,
        capacity: usize,
    ) -> Result<(usize, T::Address), SocketError> {
        // A connected socket's datagrams come from its peer (the kernel filters the others).
        let from = match got.from {
            Some(from) => T::sender(from),
            None => self.peer.borrow().clone().unwrap_or(self.local.clone()),
        };
        if got.size > got.len {
            return Err(T::truncated(from, got.size, capacity));
        }
        Ok((got.len, from))
    }

    /// One poll of a send: its turn, the budget, then the driver with the timeout.
    fn poll_send_op(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: Option<&Dest<T>>,
    ) -> Poll<Result<usize, SocketError>> {
        if to.is_none() && self.peer.borrow().is_none() {
            return Poll::Ready(Err(not_connected(T::SEND_UNCONNECTED)));
        }
        ready!(poll_begin(&self.writing, op, cx));
        let dgram = &self.dgram;
        let polled = op.poll_datagram(dgram, Direction::Write, cx, |cx| {
            dgram.poll_send_to(cx, buf, to)
        });
        let Poll::Ready(outcome) = polled else {
            if <T::Io as DatagramIo>::SEND_TO_EDGES_UNRELIABLE && to.is_some() {
                self.back_off(cx);
            }
            self.writing.hold(&mut op.ticket);
            return Poll::Pending;
        };
        if <T::Io as DatagramIo>::SEND_TO_EDGES_UNRELIABLE {
            self.send_retry.take();
        }
        let r = match outcome {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(send_error::<T>(self.destination(to), buf.len(), e)),
            Err(after) => Err(T::send_timeout(self.destination(to), after)),
        };
        self.writing.release(&mut op.ticket);
        Poll::Ready(r)
    }

    /// A `send_to` was refused and its writable edges prove nothing (the driver registered no
    /// waker): wait an interval that doubles from 1 ms to 16 ms instead (a receiver that
    /// drains is seen within it; one that does not costs at most a thousand system calls a
    /// second, not a spinning loop).
    #[cold]
    fn back_off(&self, cx: &mut Context<'_>) {
        const FIRST: Duration = Duration::from_millis(1);
        const LAST: Duration = Duration::from_millis(16);
        let core = self.dgram.core();
        let mut retry = self.send_retry.borrow_mut();
        let (deadline, interval) = retry.get_or_insert_with(|| (Deadline::after(FIRST), FIRST));
        while deadline.poll_elapsed(core, cx) {
            *interval = (*interval * 2).min(LAST);
            *deadline = Deadline::after(*interval);
        }
    }

    /// Where a send went, for its error: `to`, or the connected peer.
    #[cold]
    fn destination(&self, to: Option<&Dest<T>>) -> T::Address {
        match to {
            Some(to) => T::name_of(to),
            None => self.peer.borrow().clone().unwrap_or(self.local.clone()),
        }
    }

    /// An operation is dropped: withdraw its waiter if it holds the turn, give the turn on.
    #[inline]
    fn drop_op(&self, op: &mut OpState, direction: Direction) {
        if op.is_idle() {
            // Completed (the common case): it released its turn and waits for nothing.
            return;
        }
        self.drop_pending(op, direction);
    }

    #[cold]
    fn drop_pending(&self, op: &mut OpState, direction: Direction) {
        if op.take_waiting() && op.ticket == Ticket::HELD {
            self.dgram.cancel_wait(direction);
        }
        let turn = match direction {
            Direction::Read => &self.reading,
            Direction::Write => {
                if op.ticket == Ticket::HELD {
                    self.send_retry.take();
                }
                &self.writing
            }
        };
        turn.release(&mut op.ticket);
    }
}

/// `op` (what the socket's kind says of a receive or send without a peer) failed.
#[cold]
fn not_connected(op: &'static str) -> SocketError {
    SocketError::Io {
        op,
        source: io::ErrorKind::NotConnected.into(),
    }
}

#[cold]
#[inline(never)]
fn recv_error<T: DatagramSocket>(
    local: &T::Address,
    peer: Option<&T::Address>,
    source: io::Error,
) -> SocketError {
    if source.get_ref().is_some_and(|e| e.is::<SocketError>()) {
        return source.into();
    }
    T::recv_error(local, peer, source)
}

#[cold]
#[inline(never)]
fn send_error<T: DatagramSocket>(to: T::Address, len: usize, source: io::Error) -> SocketError {
    if source.get_ref().is_some_and(|e| e.is::<SocketError>()) {
        return source.into();
    }
    T::send_error(to, len, source)
}

/// The start of every poll: the operation's turn, then one unit of the task's budget.
#[inline]
fn poll_begin(turn: &Turn, op: &mut OpState, cx: &mut Context<'_>) -> Poll<()> {
    if op.ticket == Ticket::HELD {
        return Poll::Ready(());
    }
    ready!(turn.poll_enter(&mut op.ticket, cx));
    coop::poll_proceed(cx)
}
