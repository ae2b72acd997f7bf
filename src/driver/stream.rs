//! `Stream`: a connected socket's I/O, the same operations on either driver.
//!
//! Every operation is a `poll`: `Pending` means the task's waker is registered and the
//! operation will be ready to try again when it is woken; a timeout is the caller's (it
//! withdraws the wait with `cancel_wait`). Only one operation per direction is polled at a
//! time (the socket's turns see to it).

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
use std::rc::Rc;
use std::task::{Context, Poll};

use super::epoll::{self, Registration};
use super::{Direction, ReadOutcome};
use crate::event_loop::Core;

/// The descriptor of a connected stream socket: `mio::net::TcpStream` or
/// `mio::net::UnixStream`. `Stream` is generic over it, so every operation is compiled for the
/// one descriptor type it serves (static dispatch: no per-operation match on the socket's
/// family). The system calls are the same for both (`read`, `send`, `sendmsg`, `shutdown`):
/// only making and registering the socket differ.
pub trait StreamIo: mio::event::Source + AsFd + AsRawFd + IntoRawFd + 'static {
    /// `read(2)` into `buf`.
    fn read_bytes(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// `SO_ERROR`, taken.
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    /// Whether the socket has a peer (a non-blocking connect has completed).
    fn has_peer(&self) -> io::Result<()>;
    /// `shutdown(2)` of the write side.
    fn shutdown_write(&self) -> io::Result<()>;
    /// Whether the io_uring driver serves it by completions (else by readiness on both
    /// drivers). Unix streams are not: the kernel's io_uring path for `AF_UNIX` costs more CPU
    /// per message than `recv`/`send` on readiness (ARCHITECTURE.md, Unix-domain sockets).
    const ON_RING: bool;
}

macro_rules! stream_io {
    ($($ty:ty: $on_ring:expr),*) => {$(
        impl StreamIo for $ty {
            const ON_RING: bool = $on_ring;

            #[inline]
            fn read_bytes(&self, buf: &mut [u8]) -> io::Result<usize> {
                io::Read::read(&mut &*self, buf)
            }

            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$ty>::take_error(self)
            }

            fn has_peer(&self) -> io::Result<()> {
                self.peer_addr().map(drop)
            }

            fn shutdown_write(&self) -> io::Result<()> {
                self.shutdown(std::net::Shutdown::Write)
            }
        }
    )*};
}

stream_io!(mio::net::TcpStream: true, mio::net::UnixStream: false);

/// A connected stream socket's driver side and its descriptor (TCP unless `S` says otherwise).
pub(crate) struct Stream<S: StreamIo = mio::net::TcpStream> {
    imp: Imp,
    /// `None` only once dropped on io_uring, which cancels the socket's operations and then
    /// takes the descriptor to close it on the ring (epoll's closes with `S`).
    io: Option<S>,
}

impl<S: StreamIo> Drop for Stream<S> {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Imp::Uring(u) = &self.imp
            && let Some(io) = self.io.take()
        {
            u.close(io.into_raw_fd());
        }
    }
}

enum Imp {
    /// Readiness (epoll, kqueue): system calls when the reactor says the socket is ready.
    Epoll(Registration),
    /// Completion (io_uring): a multishot receive into the driver's buffers, queued sends.
    #[cfg(target_os = "linux")]
    Uring(super::uring::Stream),
}

impl Stream {
    /// Connects to `addr`: on io_uring by a connect operation on the ring, on epoll by a
    /// non-blocking `connect` whose outcome is checked with `SO_ERROR` at the writable edge.
    pub(crate) async fn connect(core: &Rc<Core>, addr: SocketAddr) -> io::Result<Stream> {
        #[cfg(target_os = "linux")]
        if let Some(uring) = core
            .driver
            .uring()
            .filter(|u| u.connects_on_ring())
            .cloned()
        {
            // One connect operation on the ring (dropping the future cancels it and closes
            // the socket).
            let connecting = super::uring::Connecting::start(uring, addr)?;
            std::future::poll_fn(|cx| connecting.poll(cx)).await?;
            let (imp, fd) = connecting.finish(core.clone());
            let io = mio::net::TcpStream::from_std(std::net::TcpStream::from(fd));
            return Ok(Stream {
                imp: Imp::Uring(imp),
                io: Some(io),
            });
        }
        Stream::connecting(core, mio::net::TcpStream::connect(addr)?).await
    }
}

impl<S: StreamIo> Stream<S> {
    /// A socket accepted by a listener of `core`'s loop (or made connected: a socket pair).
    pub(crate) fn accepted(core: Rc<Core>, mut io: S) -> io::Result<Stream<S>> {
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        socket2::SockRef::from(&io).set_nosigpipe(true)?;
        #[cfg(target_os = "linux")]
        if let Some(uring) = core.driver.uring().filter(|_| S::ON_RING).cloned() {
            let imp = Imp::Uring(super::uring::Stream::new(core, uring, io.as_raw_fd()));
            return Ok(Stream { imp, io: Some(io) });
        }
        let reg = Registration::new(core, &mut io)?;
        Ok(Stream {
            imp: Imp::Epoll(reg),
            io: Some(io),
        })
    }

    /// Sets `TCP_NODELAY` on an accepted connection, best effort (`ListenOptions::nodelay`): on
    /// io_uring a ring command queued ahead of the connection's first send where the kernel has
    /// one (no system call of its own), else `setsockopt`.
    pub(crate) fn set_nodelay_accepted(&self) {
        #[cfg(target_os = "linux")]
        if let Imp::Uring(u) = &self.imp
            && u.set_nodelay_on_ring()
        {
            return;
        }
        if let Some(io) = &self.io {
            let _ = socket2::SockRef::from(io).set_tcp_nodelay(true);
        }
    }

    /// Runs the socket options queued for the connection before the caller sets one itself
    /// (`Socket::set_nodelay`): on io_uring the listener's `TCP_NODELAY` is a ring command that
    /// would otherwise run at the loop's next wait, after the caller's `setsockopt`, and undo
    /// it. Nothing to do on epoll, or when nothing is queued.
    pub(crate) fn settle_queued_options(&self) {
        #[cfg(target_os = "linux")]
        if let Imp::Uring(u) = &self.imp {
            u.submit_queued();
        }
    }

    /// Waits for the non-blocking connect of `io` to complete (checked with `SO_ERROR`),
    /// through the readiness reactor on either driver.
    pub(crate) async fn connecting(core: &Rc<Core>, mut io: S) -> io::Result<Stream<S>> {
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        socket2::SockRef::from(&io).set_nosigpipe(true)?;
        let reg = Registration::new(core.clone(), &mut io)?;
        std::future::poll_fn(|cx| reg.poll_io(cx, Direction::Write, || epoll::connected(&io)))
            .await?;
        #[cfg(target_os = "linux")]
        if S::ON_RING && core.driver.uring().is_some() {
            // From here on the ring serves the connection: take it out of epoll's interest list.
            drop(reg);
            core.driver.reactor().registry().deregister(&mut io)?;
            return Stream::accepted(core.clone(), io);
        }
        Ok(Stream {
            imp: Imp::Epoll(reg),
            io: Some(io),
        })
    }

    /// The descriptor (for socket options and addresses).
    #[inline]
    pub(crate) fn io(&self) -> &S {
        match &self.io {
            Some(io) => io,
            None => unreachable!("a stream's descriptor is taken only when it is dropped"),
        }
    }

    /// The loop the socket belongs to.
    pub(crate) fn core(&self) -> &Rc<Core> {
        match &self.imp {
            Imp::Epoll(reg) => reg.core(),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.core(),
        }
    }

    /// Delivers at most `max` received bytes to `deliver` (at least one), or end of stream.
    #[inline]
    pub(crate) fn poll_read<R>(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        deliver: impl FnOnce(&[u8]) -> R,
    ) -> Poll<io::Result<ReadOutcome<R>>> {
        match &self.imp {
            Imp::Epoll(reg) => epoll::poll_read_scratch(reg, self.io(), cx, max, deliver),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_read(cx, max, deliver),
        }
    }

    /// Reads into `buf` (not empty): how many bytes arrived, or end of stream.
    #[inline]
    pub(crate) fn poll_read_into(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<ReadOutcome<usize>>> {
        match &self.imp {
            Imp::Epoll(reg) => epoll::poll_read_into(reg, self.io(), cx, buf),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_read(cx, buf.len(), |bytes| {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }),
        }
    }

    /// Reads into `buf` (not empty), which may be uninitialised: on `Data(n)` its first `n`
    /// elements are initialised. epoll receives straight into it; io_uring copies from the
    /// inbox (where the bytes already are), so neither adds a copy.
    #[inline]
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<ReadOutcome<usize>>> {
        match &self.imp {
            Imp::Epoll(reg) => epoll::poll_read_uninit(reg, self.io(), cx, buf),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_read(cx, buf.len(), |bytes| {
                // One bulk copy (a byte-at-a-time loop here cost ~1,000 instructions per 4 KiB).
                super::uring::copy_to_uninit(&mut buf[..bytes.len()], bytes);
                bytes.len()
            }),
        }
    }

    /// Appends at most `max` received bytes to `dst` (io_uring trades vectors when `dst` is
    /// empty and everything received fits).
    #[inline]
    pub(crate) fn poll_read_vec(
        &self,
        cx: &mut Context<'_>,
        dst: &mut Vec<u8>,
        max: usize,
    ) -> Poll<io::Result<ReadOutcome<usize>>> {
        match &self.imp {
            Imp::Epoll(reg) => epoll::poll_read_scratch(reg, self.io(), cx, max, |bytes| {
                dst.extend_from_slice(bytes);
                bytes.len()
            }),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_read_vec(cx, dst, max),
        }
    }

    /// Takes some of `buf` (at least one byte) to send, or fails. On io_uring the bytes go out
    /// write-behind: they count as taken once in the driver's send buffer.
    #[inline]
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &self.imp {
            Imp::Epoll(reg) => epoll::poll_write(reg, self.io(), cx, buf),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_write(cx, &[IoSlice::new(buf)]),
        }
    }

    /// `poll_write` for several slices (at most `IOV_MAX` of them are looked at).
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &self.imp {
            Imp::Epoll(reg) => epoll::poll_write_vectored(reg, self.io(), cx, bufs),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_write(cx, bufs),
        }
    }

    /// Sends `*buf`, counting into `written`: `true` once every byte is taken, `false` after
    /// progress (call again). On io_uring the vector itself becomes the send buffer
    /// (write-behind, no copy) and `*buf` gets the previous one back, empty; on epoll `*buf`
    /// stays and is sent from.
    #[inline]
    pub(crate) fn poll_write_owned(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Option<Vec<u8>>,
        written: &mut usize,
    ) -> Poll<io::Result<bool>> {
        match &self.imp {
            Imp::Epoll(reg) => {
                let bytes = buf.as_deref().unwrap_or_default();
                if *written >= bytes.len() {
                    return Poll::Ready(Ok(true));
                }
                epoll::poll_write(reg, self.io(), cx, &bytes[*written..]).map_ok(|n| {
                    *written += n;
                    *written >= bytes.len()
                })
            }
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_write_owned(cx, buf).map_ok(|()| true),
        }
    }

    /// Waits until every byte taken has gone to the kernel, and reports a failure of its send
    /// that nobody heard of yet (io_uring; on epoll the kernel has them already).
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.imp {
            Imp::Epoll(_) => {
                let _ = cx;
                Poll::Ready(Ok(()))
            }
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.poll_flush(cx),
        }
    }

    /// A count that moves whenever bytes already taken make progress towards the kernel
    /// (io_uring's write-behind send): a write waiting for it restarts its stall timeout.
    #[inline]
    pub(crate) fn write_progress(&self) -> u32 {
        match &self.imp {
            Imp::Epoll(_) => 0,
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.send_progress(),
        }
    }

    /// Closes the write side, after the bytes already taken.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Imp::Uring(u) = &self.imp
            && u.defer_shutdown()
        {
            return Ok(());
        }
        self.io().shutdown_write()
    }

    /// Withdraws the wait of `direction` (its operation was dropped or timed out).
    #[inline]
    pub(crate) fn cancel_wait(&self, direction: Direction) {
        match &self.imp {
            Imp::Epoll(reg) => reg.cancel_wait(direction),
            #[cfg(target_os = "linux")]
            Imp::Uring(u) => u.cancel_wait(direction),
        }
    }
}
