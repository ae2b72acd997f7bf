//! `Compat`: futures-io and hyper's I/O traits, each over the other.

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper::rt::{ReadBuf, ReadBufCursor};

/// The size of the buffer a futures-io reader is read through for hyper.
const READ_CHUNK: usize = 16 * 1024;

/// An I/O object seen through the other family of traits:
/// - over a futures-io `AsyncRead + AsyncWrite` (a `futures_rustls` stream, say), it is
///   hyper's `Read + Write`, so hyper's client or server connections can run on it;
/// - over hyper's `Read + Write` (a [`hyper::upgrade::Upgraded`] connection, say), it is
///   futures-io's `AsyncRead + AsyncWrite`, so `futures_util::io::AsyncReadExt` and the like
///   work on it.
///
/// Reads in the futures-to-hyper direction go through a 16 KiB buffer of its own (allocated at
/// the first read: hyper hands out uninitialised memory, which safe code fills by copying);
/// [`HyperIo`](crate::HyperIo) reads an event `Socket` without that copy.
///
/// ```
/// use event::{Socket, SocketAddress};
/// use event_hyper::Compat;
/// use futures_util::io::{AsyncReadExt, AsyncWriteExt};
///
/// event::run(async {
///     let server = Socket::listen_on(SocketAddress::localhost(0))?;
///     let client = Socket::connect(server.local_address()).await?;
///     let accepted = server.accept().await?;
///     // futures-io -> hyper -> futures-io: the same bytes come through.
///     let mut io = Compat::new(Compat::new(client));
///     io.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     (&accepted).read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Compat<T> {
    inner: T,
    buf: Vec<u8>,
}

impl<T> Compat<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Compat<T> {
        Compat {
            inner,
            buf: Vec::new(),
        }
    }

    /// The wrapped I/O object.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped I/O object, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the I/O object.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> fmt::Debug for Compat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat").finish_non_exhaustive()
    }
}

impl<T: futures_io::AsyncRead + Unpin> hyper::rt::Read for Compat<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            this.buf = vec![0; READ_CHUNK];
        }
        let len = cursor.remaining().min(this.buf.len());
        // End of stream is Ok(0): hyper sees an empty read, as it expects.
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.buf[..len]))?;
        cursor.put_slice(&this.buf[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<T: futures_io::AsyncWrite + Unpin> hyper::rt::Write for Compat<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

impl<T: hyper::rt::Read + Unpin> futures_io::AsyncRead for Compat<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.get_mut().inner).poll_read(cx, read.unfilled()))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl<T: hyper::rt::Write + Unpin> futures_io::AsyncWrite for Compat<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.get_mut().inner), cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write_vectored(Pin::new(&mut self.get_mut().inner), cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.get_mut().inner), cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.get_mut().inner), cx)
    }
}
