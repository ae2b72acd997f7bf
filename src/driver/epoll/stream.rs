//! A connected socket's I/O on the readiness driver: a system call when the reactor says the
//! socket is ready, a wait for the next edge otherwise.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use socket2::SockRef;

use super::{Registration, SEND_FLAGS};
use crate::driver::{Direction, ReadOutcome, StreamIo};

/// The most slices one `sendmsg` takes (POSIX's minimum for `IOV_MAX`, Linux's value).
const IOV_MAX: usize = 1024;

#[inline]
fn try_read<S: StreamIo>(io: &S, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let n = io.read_bytes(buf)?;
    // A short read drained the socket: the next read could only return EAGAIN. (End of stream
    // stays visible: the reactor keeps the read-closed bit.)
    Ok((n, n < buf.len()))
}

#[inline]
fn read_outcome(n: usize) -> ReadOutcome<usize> {
    if n > 0 {
        ReadOutcome::Data(n)
    } else {
        ReadOutcome::Eof
    }
}

/// Reads straight into `buf`.
#[inline]
pub(crate) fn poll_read_into<S: StreamIo>(
    reg: &Registration,
    io: &S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<ReadOutcome<usize>>> {
    reg.poll_io(cx, Direction::Read, || try_read(io, buf))
        .map_ok(read_outcome)
}

/// Reads straight into uninitialised memory (`recv(2)` through socket2, which writes the bytes
/// and returns how many): the first `n` elements of `buf` are initialised on `Data(n)`.
pub(crate) fn poll_read_uninit<S: StreamIo>(
    reg: &Registration,
    io: &S,
    cx: &mut Context<'_>,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> Poll<io::Result<ReadOutcome<usize>>> {
    reg.poll_io(cx, Direction::Read, || {
        let n = SockRef::from(io).recv(buf)?;
        Ok((n, n < buf.len()))
    })
    .map_ok(read_outcome)
}

/// Reads into the loop's scratch buffer and passes exactly what arrived to `deliver`.
#[inline]
pub(crate) fn poll_read_scratch<S: StreamIo, R>(
    reg: &Registration,
    io: &S,
    cx: &mut Context<'_>,
    max: usize,
    deliver: impl FnOnce(&[u8]) -> R,
) -> Poll<io::Result<ReadOutcome<R>>> {
    if !reg.is_ready(Direction::Read) {
        // Nothing to read (the common case right after a message was handled): wait without
        // touching the scratch buffer.
        reg.wait(cx, Direction::Read);
        return Poll::Pending;
    }
    let mut scratch = reg.core().scratch.borrow_mut();
    let len = max.min(scratch.len());
    let buf = &mut scratch[..len];
    match reg.poll_io(cx, Direction::Read, || try_read(io, buf)) {
        Poll::Ready(Ok(n)) if n > 0 => Poll::Ready(Ok(ReadOutcome::Data(deliver(&scratch[..n])))),
        Poll::Ready(Ok(_)) => Poll::Ready(Ok(ReadOutcome::Eof)),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Sends some of `buf` (`MSG_NOSIGNAL`).
#[inline]
pub(crate) fn poll_write<S: StreamIo>(
    reg: &Registration,
    io: &S,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    reg.poll_io(cx, Direction::Write, || {
        let n = SockRef::from(io).send_with_flags(buf, SEND_FLAGS)?;
        Ok((n, n < buf.len()))
    })
    .map(taken)
}

/// Sends some of `bufs` in one `sendmsg`.
pub(crate) fn poll_write_vectored<S: StreamIo>(
    reg: &Registration,
    io: &S,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    // sendmsg refuses more than IOV_MAX slices (EMSGSIZE); send the first ones, as std does.
    let bufs = &bufs[..bufs.len().min(IOV_MAX)];
    reg.poll_io(cx, Direction::Write, || {
        let n = SockRef::from(io).send_vectored_with_flags(bufs, SEND_FLAGS)?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        Ok((n, n < total))
    })
    .map(taken)
}

/// A send that took nothing of a non-empty buffer is an error, never "done".
#[inline]
fn taken(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        other => other,
    }
}

/// Whether a non-blocking connect has completed (`SO_ERROR`, then the peer address).
pub(crate) fn connected<S: StreamIo>(io: &S) -> io::Result<((), bool)> {
    if let Some(e) = io.take_error()? {
        return Err(e);
    }
    match io.has_peer() {
        Ok(()) => Ok(((), false)),
        // Not connected yet: a spurious wake-up; wait for the next event.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}
