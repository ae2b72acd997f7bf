//! TCP connect on the ring: a non-blocking socket and one `IORING_OP_CONNECT`, instead of a
//! `connect` that returns `EINPROGRESS`, the nested epoll's writable edge, `SO_ERROR` and the
//! socket leaving epoll for the ring.
//!
//! The socket's `ConnState` is made here and becomes the connection's: the connect is its
//! "send" operation while it runs (`ConnState::send`, its errno in `send_error`, the task
//! waiting as its writer), and the destination address is the driver's (`connect_addrs`)
//! until the operation's completion, so a connect dropped or timed out before the kernel has
//! read it frees nothing the kernel may still use. Dropping `Connecting` before the connect
//! succeeded cancels the operation and closes the socket (on the ring, after the
//! cancellation), so it consumed nothing.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use super::stream::Stream;

use super::*;

/// A connect in flight on the ring (see the module docs).
pub(crate) struct Connecting {
    uring: Rc<Uring>,
    state: Rc<ConnState>,
    /// The socket; taken by `finish` once connected.
    fd: Option<OwnedFd>,
}

impl Connecting {
    /// Makes a non-blocking socket for `addr`'s family and queues its connect (submitted with
    /// the loop's next wait).
    pub(crate) fn start(uring: Rc<Uring>, addr: SocketAddr) -> io::Result<Connecting> {
        let domain = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: socket(2) takes three integers and touches no memory of ours.
        let raw = unsafe { libc::socket(domain, kind, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor just returned by socket(2), owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let state = Rc::new(ConnState::new(raw));
        let addr = Box::new(socket2::SockAddr::from(addr));
        let entry = opcode::Connect::new(types::Fd(raw), addr.as_ptr().cast(), addr.len());
        let ud = uring.insert(&state, OpKind::Connect);
        uring.connect_addrs.borrow_mut().push((ud, addr));
        state.set_send_op(Some(ud));
        uring.push(entry.build().user_data(ud));
        Ok(Connecting {
            uring,
            state,
            fd: Some(fd),
        })
    }

    /// Ready once the connect completed: `Ok` connected, or its error (`ECONNREFUSED`...).
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = &*self.state;
        if s.send_op().is_some() {
            s.writer.wait(cx.waker());
            return Poll::Pending;
        }
        match s.send_error.replace(0) {
            0 => Poll::Ready(Ok(())),
            errno => Poll::Ready(Err(io::Error::from_raw_os_error(errno))),
        }
    }

    /// The connected socket: its descriptor and its driver side (call after `poll` gave `Ok`).
    pub(crate) fn finish(mut self, core: Rc<Core>) -> (Stream, OwnedFd) {
        let fd = self.fd.take().expect("finish is called once");
        let stream = Stream::with_state(core, self.uring.clone(), self.state.clone());
        (stream, fd)
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else {
            return;
        };
        let s = &*self.state;
        s.set(CLOSED, true);
        if let Some(ud) = s.send_op() {
            // Queued after the connect: the kernel cancels it before the close below.
            self.uring.cancel(ud);
        }
        s.writer.clear();
        self.uring.close_fd(fd.into_raw_fd());
    }
}

impl Uring {
    /// A completion of a connect: its errno for the task (0: connected), which is woken.
    #[cold]
    #[inline(never)]
    pub(super) fn complete_connect(&self, conn: &Rc<ConnState>, index: usize, ud: u64, res: i32) {
        // The kernel is done with the address.
        self.ops.borrow_mut().remove(index);
        self.connect_addrs.borrow_mut().retain(|&(u, _)| u != ud);
        conn.set_send_op(None);
        conn.send_error.set(if res < 0 { errno_of(res) } else { 0 });
        conn.writer.wake();
    }
}
