//! A datagram socket's I/O on the readiness driver: `recvfrom`/`sendto` when the reactor says
//! the socket is ready (edge-triggered), a wait for the next edge otherwise.
//!
//! One receive takes one datagram, so a successful receive cannot prove the queue drained: the
//! receive after the last queued datagram is the one system call that returns `EAGAIN` (the
//! price of edge-triggered readiness for datagrams; a `FIONREAD` check would cost the same
//! call). A send is tried at once (the socket starts out writable) and waits for the writable
//! edge only after `EAGAIN`.
//!
//! Truncation: the datagram's full length is always known, so a datagram larger than the
//! buffer is reported, never cut silently. A buffer that holds any datagram the socket can get
//! (65,536 bytes for UDP) is received into directly; a smaller one, through the loop's 64 KiB
//! scratch buffer when that holds any datagram (UDP); otherwise (Unix-domain datagrams, which
//! may be as large as the sender's `SO_SNDBUF`) a zero-length `MSG_PEEK | MSG_TRUNC` receive
//! first asks the kernel for the length (Linux), then the datagram goes straight into the
//! buffer.

use std::io;
use std::task::{Context, Poll};

use socket2::SockRef;

use super::{Registration, SEND_FLAGS};
use crate::driver::Direction;
use crate::driver::datagram::{DatagramIo, Received};

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
pub(crate) fn poll_recv_from<D: DatagramIo>(
    reg: &Registration,
    io: &D,
    cx: &mut Context<'_>,
    buf: &mut [u8],
    from: bool,
) -> Poll<io::Result<Received<D::From>>> {
    if !reg.is_ready(Direction::Read) {
        reg.wait(cx, Direction::Read);
        return Poll::Pending;
    }
    let sock = SockRef::from(io);
    let recv = |into: &mut [u8]| -> io::Result<(usize, Option<D::From>)> {
        if from {
            let (n, addr) = D::recv_from(io, into)?;
            Ok((n, Some(addr)))
        } else {
            Ok((D::recv(io, into)?, None))
        }
    };
    let whole = |(n, from)| Received {
        len: n,
        size: n,
        from,
    };
    if buf.len() > D::MAX_DATAGRAM {
        return poll_ready(reg, cx, Direction::Read, || recv(buf)).map_ok(whole);
    }
    let core = reg.core();
    if D::MAX_DATAGRAM >= core.scratch.borrow().len() {
        return poll_ready(reg, cx, Direction::Read, || {
            let size = sock.recv_with_flags(&mut [], PEEK_LENGTH)?;
            let (len, from) = recv(buf)?;
            Ok(Received {
                len,
                size: size.max(len),
                from,
            })
        });
    }
    let mut scratch = core.scratch.borrow_mut();
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

/// A zero-length receive with these flags leaves the datagram queued and returns its length
/// (Linux: `MSG_TRUNC` reports the real length of UDP and, since 3.4, Unix datagrams).
#[cfg(any(target_os = "linux", target_os = "android"))]
const PEEK_LENGTH: libc::c_int = libc::MSG_PEEK | libc::MSG_TRUNC;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const PEEK_LENGTH: libc::c_int = libc::MSG_PEEK;

/// Sends `buf` as one datagram to `to`, or to the connected peer (`MSG_NOSIGNAL`).
#[inline]
pub(crate) fn poll_send_to<D: DatagramIo>(
    reg: &Registration,
    io: &D,
    cx: &mut Context<'_>,
    buf: &[u8],
    to: Option<&D::Addr>,
) -> Poll<io::Result<usize>> {
    let Some(to) = to else {
        let sock = SockRef::from(io);
        return poll_ready(reg, cx, Direction::Write, || {
            sock.send_with_flags(buf, SEND_FLAGS)
        });
    };
    if D::SEND_TO_EDGES_UNRELIABLE {
        // Try at every poll, whatever the edges say, and leave the waiting to the caller.
        return loop {
            match io.send_to(buf, to) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Poll::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break Poll::Ready(r),
            }
        };
    }
    poll_ready(reg, cx, Direction::Write, || io.send_to(buf, to))
}
