//! `HyperIo`: hyper's `Read`/`Write` over an event `Socket`.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use event::Socket;
use futures_io::AsyncWrite;
use hyper::rt::ReadBufCursor;

/// An event [`Socket`] as hyper's I/O (`hyper::rt::Read` and `hyper::rt::Write`).
///
/// `S` is anything that lends a `Socket`: the socket itself, an `Rc<Socket>` or a `&Socket`.
/// Reads go straight into hyper's uninitialised buffer ([`Socket::poll_read_uninit`]: no copy
/// on epoll, the one copy out of the inbox on io_uring); writes use the socket's write path
/// (vectored, write-behind on io_uring). The socket's read and write timeouts apply, so a
/// stalled peer fails with `io::ErrorKind::TimedOut`.
///
/// ```
/// use event::{Socket, SocketAddress};
/// use event_hyper::HyperIo;
///
/// event::run(async {
///     let server = Socket::listen_on(SocketAddress::localhost(0))?;
///     let client = Socket::connect(server.local_address()).await?;
///     // hyper::client::conn / hyper::server::conn take it as their `io`.
///     let io = HyperIo::new(client);
///     assert_eq!(io.get_ref().peer_address(), server.local_address());
///     Ok::<(), event::SocketError>(())
/// })?;
/// # Ok::<(), event::SocketError>(())
/// ```
pub struct HyperIo<S = Socket> {
    socket: S,
    /// The time the first byte may take from the first read, and its deadline once armed;
    /// `None` once a byte has come (or without such a limit).
    first_byte: Option<(Duration, Option<event::Sleep>)>,
}

impl<S> HyperIo<S> {
    /// Wraps `socket`.
    pub fn new(socket: S) -> HyperIo<S> {
        HyperIo {
            socket,
            first_byte: None,
        }
    }

    /// Wraps `socket`, whose reads fail with `TimedOut` if no byte arrives within `limit` of
    /// the first read. hyper's header-read timer starts at a request's first bytes, and with
    /// `Protocols::Auto` hyper-util reads those itself (to tell HTTP/1 from HTTP/2): without
    /// this, a client that connects and sends nothing would hold its place until the idle
    /// timeout.
    pub(crate) fn with_first_byte_limit(socket: S, limit: Duration) -> HyperIo<S> {
        HyperIo {
            socket,
            first_byte: Some((limit, None)),
        }
    }

    /// The socket (or what lends it).
    pub fn get_ref(&self) -> &S {
        &self.socket
    }

    /// Unwraps the socket.
    pub fn into_inner(self) -> S {
        self.socket
    }
}

impl<S> fmt::Debug for HyperIo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperIo").finish_non_exhaustive()
    }
}

impl<S: Borrow<Socket> + Unpin> hyper::rt::Read for HyperIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let socket: &Socket = this.socket.borrow();
        // SAFETY: `poll_read_uninit` only ever writes initialised bytes into the slice; it never
        // de-initialises an element, which is what `ReadBufCursor::as_mut` asks of its callers.
        let unfilled = unsafe { buf.as_mut() };
        let n = match socket.poll_read_uninit(cx, unfilled) {
            Poll::Pending => return poll_first_byte(&mut this.first_byte, cx),
            Poll::Ready(r) => r?,
        };
        if n > 0 {
            this.first_byte = None;
        }
        // SAFETY: `poll_read_uninit` returned `Ok(n)`: its contract is that the first `n`
        // elements of the slice (`n <= len`) are now initialised.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

/// A read is pending: `Pending`, or `TimedOut` once the first byte's deadline has passed.
fn poll_first_byte(
    first_byte: &mut Option<(Duration, Option<event::Sleep>)>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let Some((limit, deadline)) = first_byte else {
        return Poll::Pending;
    };
    let limit = *limit;
    let deadline = deadline.get_or_insert_with(|| event::sleep(limit));
    ready!(Pin::new(deadline).poll(cx));
    Poll::Ready(Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "no request within the header-read timeout",
    )))
}

impl<S: Borrow<Socket>> hyper::rt::Write for HyperIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut socket: &Socket = self.socket.borrow();
        Pin::new(&mut socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut socket: &Socket = self.socket.borrow();
        Pin::new(&mut socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut socket: &Socket = self.socket.borrow();
        Pin::new(&mut socket).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut socket: &Socket = self.socket.borrow();
        Pin::new(&mut socket).poll_close(cx)
    }
}
