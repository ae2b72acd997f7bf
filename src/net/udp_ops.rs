//! The futures of [`UdpSocket`]: `recv_from`, `recv`, `send_to`, `send`, and the
//! [`Datagrams`] stream.
//!
//! Each poll takes the socket's turn for its direction (net/turn.rs), charges the task's
//! cooperative budget (executor/coop.rs), then asks the driver through the one timeout
//! protocol (net/op.rs): a receive that times out or is dropped has consumed nothing.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::op::OpState;
use super::turn::{Ticket, Turn};
use super::{SocketAddress, SocketError, UdpSocket};
use crate::driver::{Direction, Received};
use crate::executor::coop;

/// The future of [`UdpSocket::recv_from`]: the datagram's length and its sender.
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFrom<'a> {
    pub(super) socket: &'a UdpSocket,
    pub(super) buf: &'a mut [u8],
    pub(super) op: OpState,
}

impl RecvFrom<'_> {
    /// Gives up with [`SocketError::Timeout`] if no datagram arrives within `timeout`
    /// (nothing is consumed: a datagram arriving later waits for the next receive).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl Future for RecvFrom<'_> {
    type Output = Result<(usize, SocketAddress), SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.socket
            .poll_recv_op(&mut this.op, cx, this.buf, false)
            .map_ok(|(n, from)| (n, from.into()))
    }
}

impl Drop for RecvFrom<'_> {
    fn drop(&mut self) {
        self.socket.drop_op(&mut self.op, Direction::Read);
    }
}

/// The future of [`UdpSocket::recv`]: the length of a datagram from the connected peer.
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a> {
    pub(super) inner: RecvFrom<'a>,
}

impl Recv<'_> {
    /// As [`RecvFrom::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner.op.timeout = Some(timeout);
        self
    }
}

impl Future for Recv<'_> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut self.inner;
        this.socket
            .poll_recv_op(&mut this.op, cx, this.buf, true)
            .map_ok(|(n, _)| n)
    }
}

/// The future of [`UdpSocket::send_to`]: the datagram's length once the kernel took it.
#[must_use = "futures do nothing unless awaited"]
pub struct SendTo<'a> {
    pub(super) socket: &'a UdpSocket,
    pub(super) buf: &'a [u8],
    /// `None`: the connected peer.
    pub(super) to: Option<SocketAddr>,
    pub(super) op: OpState,
}

impl SendTo<'_> {
    /// Gives up with [`SocketError::WriteTimeout`] (`written: 0`) if the socket's buffer has
    /// no room for the datagram within `timeout`; nothing was sent.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = Some(timeout);
        self
    }
}

impl Future for SendTo<'_> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.socket
            .poll_send_op(&mut this.op, cx, this.buf, this.to)
    }
}

impl Drop for SendTo<'_> {
    fn drop(&mut self) {
        self.socket.drop_op(&mut self.op, Direction::Write);
    }
}

/// The future of [`UdpSocket::send`]: the datagram's length once the kernel took it.
#[must_use = "futures do nothing unless awaited"]
pub struct SendDatagram<'a> {
    pub(super) inner: SendTo<'a>,
}

impl SendDatagram<'_> {
    /// As [`SendTo::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner.op.timeout = Some(timeout);
        self
    }
}

impl Future for SendDatagram<'_> {
    type Output = Result<usize, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// The stream of [`UdpSocket::datagrams`]: each received datagram and its sender, or the error
/// of one receive. It never ends by itself; drop it to stop (a receive in progress then
/// consumed nothing).
#[must_use = "streams do nothing unless polled"]
pub struct Datagrams<'a> {
    socket: &'a UdpSocket,
    buf: Box<[u8]>,
    op: OpState,
}

impl<'a> Datagrams<'a> {
    pub(super) fn new(socket: &'a UdpSocket, max_len: usize) -> Datagrams<'a> {
        Datagrams {
            socket,
            buf: vec![0; max_len].into_boxed_slice(),
            op: OpState::new(socket.recv_timeout()),
        }
    }

    /// The next datagram (`Stream::poll_next` as a future; never `None`).
    pub async fn next(&mut self) -> Option<Result<(Vec<u8>, SocketAddress), SocketError>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl futures_core::Stream for Datagrams<'_> {
    type Item = Result<(Vec<u8>, SocketAddress), SocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let r = ready!(
            this.socket
                .poll_recv_op(&mut this.op, cx, &mut this.buf, false)
        );
        // The next datagram is a new operation: a fresh timeout.
        this.op = OpState::new(this.socket.recv_timeout());
        Poll::Ready(Some(
            r.map(|(n, from)| (this.buf[..n].to_vec(), from.into())),
        ))
    }
}

impl Drop for Datagrams<'_> {
    fn drop(&mut self) {
        self.socket.drop_op(&mut self.op, Direction::Read);
    }
}

impl UdpSocket {
    /// One poll of a receive: its turn, the budget, then the driver with the timeout.
    fn poll_recv_op(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        connected: bool,
    ) -> Poll<Result<(usize, SocketAddr), SocketError>> {
        let peer = self.peer.get();
        if connected && peer.is_none() {
            return Poll::Ready(Err(SocketError::Io {
                op: "recv on an unconnected UDP socket (connect first, or use recv_from)",
                source: io::ErrorKind::NotConnected.into(),
            }));
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
        let r = match outcome {
            Ok(Ok(got)) => self.received(got, buf.len()),
            Ok(Err(e)) => Err(self.recv_error(e)),
            Err(after) => Err(SocketError::Timeout {
                op: "recv",
                addr: self.peer.get().unwrap_or(self.local()),
                after,
            }),
        };
        self.reading.release(&mut op.ticket);
        Poll::Ready(r)
    }

    #[inline]
    fn received(&self, got: Received, capacity: usize) -> Result<(usize, SocketAddr), SocketError> {
        // A connected socket's datagrams come from its peer (the kernel filters the others).
        let from = got.from.or(self.peer.get()).unwrap_or(self.local());
        if got.size > got.len {
            return Err(SocketError::Truncated {
                peer: from,
                len: got.size,
                capacity,
            });
        }
        Ok((got.len, from))
    }

    #[cold]
    #[inline(never)]
    fn recv_error(&self, source: io::Error) -> SocketError {
        if source.get_ref().is_some_and(|e| e.is::<SocketError>()) {
            return source.into();
        }
        SocketError::Recv {
            local: self.local(),
            peer: self.peer.get(),
            source,
        }
    }

    /// One poll of a send: its turn, the budget, then the driver with the timeout.
    fn poll_send_op(
        &self,
        op: &mut OpState,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: Option<SocketAddr>,
    ) -> Poll<Result<usize, SocketError>> {
        let Some(peer) = to.or(self.peer.get()) else {
            return Poll::Ready(Err(SocketError::Io {
                op: "send on an unconnected UDP socket (connect first, or use send_to)",
                source: io::ErrorKind::NotConnected.into(),
            }));
        };
        ready!(poll_begin(&self.writing, op, cx));
        let dgram = &self.dgram;
        let to = to.map(|to| self.reachable(to));
        let polled = op.poll_datagram(dgram, Direction::Write, cx, |cx| {
            dgram.poll_send_to(cx, buf, to)
        });
        let Poll::Ready(outcome) = polled else {
            self.writing.hold(&mut op.ticket);
            return Poll::Pending;
        };
        let r = match outcome {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(send_error(e, peer, buf.len())),
            Err(after) => Err(SocketError::write_timeout(peer, after, 0)),
        };
        self.writing.release(&mut op.ticket);
        Poll::Ready(r)
    }

    /// An IPv4 destination from an IPv6 (dual-stack) socket goes to its IPv4-mapped address
    /// (`::ffff:a.b.c.d`), which is how such a socket reaches IPv4 peers.
    #[inline]
    fn reachable(&self, to: SocketAddr) -> SocketAddr {
        match (self.local(), to) {
            (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
                SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0).into()
            }
            _ => to,
        }
    }

    /// An operation is dropped: withdraw its waiter if it holds the turn, give the turn on.
    fn drop_op(&self, op: &mut OpState, direction: Direction) {
        if op.take_waiting() && op.ticket == Ticket::HELD {
            self.dgram.cancel_wait(direction);
        }
        let turn = match direction {
            Direction::Read => &self.reading,
            Direction::Write => &self.writing,
        };
        turn.release(&mut op.ticket);
    }
}

#[cold]
#[inline(never)]
fn send_error(source: io::Error, peer: SocketAddr, len: usize) -> SocketError {
    if source.get_ref().is_some_and(|e| e.is::<SocketError>()) {
        return source.into();
    }
    if source.raw_os_error() == Some(libc::EMSGSIZE) {
        return SocketError::DatagramTooLarge { peer, len, source };
    }
    SocketError::Send { peer, source }
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
