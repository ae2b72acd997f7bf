//! A datagram socket's I/O on the readiness driver: `recvfrom`/`sendto` when the reactor says
//! the socket is ready (edge-triggered), a wait for the next edge otherwise.
//!
//! One receive takes one datagram, so a successful receive cannot prove the queue drained: the
//! receive after the last queued datagram is the one system call that returns `EAGAIN` (the
//! price of edge-triggered readiness for datagrams; a `FIONREAD` check would cost the same
//! call). A send is tried at once (the socket starts out writable) and waits for the writable
//! edge only after `EAGAIN`.
//!
//! Truncation: a caller's buffer smaller than the largest possible datagram is received
//! through the loop's 64 KiB scratch buffer, so the datagram's full length is known and a
//! datagram larger than the buffer is reported, never cut silently; a buffer of 64 KiB or more
//! is received into directly.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use socket2::SockRef;

use super::{Registration, SEND_FLAGS};
use crate::driver::Direction;
use crate::driver::datagram::Received;

/// A buffer at least this long holds any UDP datagram (65,535 bytes of IP payload less the
/// 8-byte header; no jumbograms), so it cannot truncate and is received into directly.
const HOLDS_ANY: usize = 65_536;

type Udp = mio::net::UdpSocket;

/// Runs `attempt` while the socket is ready in `direction`; after `EAGAIN` waits for the next
/// edge. Unlike a stream's, a datagram socket's error is not final (an ICMP error of one
/// datagram, reported once), so `EAGAIN` clears the error bit as well.
#[inline]
fn poll_ready<R>(
    reg: &Registration,
    cx: &mut Context<'_>,
    direction: Direction,
    mut attempt: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        if !reg.is_ready(direction) {
            reg.wait(cx, direction);
            return Poll::Pending;
        }
        match attempt() {
            Ok(r) => return Poll::Ready(Ok(r)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => reg.clear_with_error(direction),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Receives one datagram into `buf` (with its sender when `from` is true).
#[inline]
pub(crate) fn poll_recv_from(
    reg: &Registration,
    io: &Udp,
    cx: &mut Context<'_>,
    buf: &mut [u8],
    from: bool,
) -> Poll<io::Result<Received>> {
    if !reg.is_ready(Direction::Read) {
        reg.wait(cx, Direction::Read);
        return Poll::Pending;
    }
    let recv = |into: &mut [u8]| -> io::Result<(usize, Option<SocketAddr>)> {
        if from {
            io.recv_from(into).map(|(n, addr)| (n, Some(addr)))
        } else {
            io.recv(into).map(|n| (n, None))
        }
    };
    if buf.len() >= HOLDS_ANY {
        return poll_ready(reg, cx, Direction::Read, || recv(buf)).map_ok(|(n, from)| Received {
            len: n,
            size: n,
            from,
        });
    }
    let mut scratch = reg.core().scratch.borrow_mut();
    match poll_ready(reg, cx, Direction::Read, || recv(&mut scratch[..])) {
        Poll::Ready(Ok((size, from))) => {
            let len = size.min(buf.len());
            buf[..len].copy_from_slice(&scratch[..len]);
            Poll::Ready(Ok(Received { len, size, from }))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Sends `buf` as one datagram to `to`, or to the connected peer (`MSG_NOSIGNAL`).
#[inline]
pub(crate) fn poll_send_to(
    reg: &Registration,
    io: &Udp,
    cx: &mut Context<'_>,
    buf: &[u8],
    to: Option<SocketAddr>,
) -> Poll<io::Result<usize>> {
    let sock = SockRef::from(io);
    let to = to.map(socket2::SockAddr::from);
    poll_ready(reg, cx, Direction::Write, || match &to {
        Some(addr) => sock.send_to_with_flags(buf, addr, SEND_FLAGS),
        None => sock.send_with_flags(buf, SEND_FLAGS),
    })
}
