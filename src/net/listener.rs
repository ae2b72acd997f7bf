//! `ServerSocket`: a listening socket, its `accept` and its `connections` stream. The listener
//! behind it (`Listener`) is generic over the socket kind, so `UnixServerSocket` shares it.

use std::cell::{Cell, Ref, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use super::accept::AcceptState;
pub use super::accept::{Accept, Connections};
use super::conn::{Conn, StreamSocket};
use super::op::{OpPoll, OpState};
use super::options::{AtLimit, Limits, ListenOptions};
use super::{Socket, SocketAddress, SocketError};
use crate::driver::{Accepted, ListenSource, Stream};
use crate::event_loop;
use crate::time::Deadline;
use crate::trace;

/// How long `accept` pauses after the process or system ran out of a resource (descriptors,
/// memory), so a full descriptor table never turns the loop into a busy spin.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

impl ListenOptions {
    /// Turns a bound, listening, non-blocking standard listener into a `ServerSocket` with these
    /// options' connection limit and idle timeout.
    pub(crate) fn wrap(&self, std: std::net::TcpListener, local: SocketAddr) -> ServerSocket {
        ServerSocket {
            inner: Rc::new(Listener::new(
                mio::net::TcpListener::from_std(std),
                local,
                self.limits,
            )),
        }
    }
}

pub(crate) fn local_addr(std: &std::net::TcpListener) -> Result<SocketAddr, SocketError> {
    std.local_addr().map_err(|source| SocketError::Io {
        op: "getsockname",
        source,
    })
}

/// A listening TCP socket.
///
/// Clones share the one socket, so one task can accept while another calls
/// [`close`](ServerSocket::close) (for a graceful shutdown).
///
/// It accepts on the loop running on the thread (it can be made before that loop runs, and be
/// served by one loop after another: it moves to the running loop at its next accept), and it
/// is not `Send`: it and the sockets it accepts stay on that thread. For one loop per core,
/// [`PerCore`](crate::PerCore) gives each loop a listener of its own; to hand work to another
/// loop, see [the crate docs](crate#sockets-and-tasks-stay-on-their-loop).
///
/// ```no_run
/// use event::{Socket, SocketError};
///
/// async fn serve() -> Result<(), SocketError> {
///     let server = Socket::listen(8080)?;
///     loop {
///         let client = server.accept().await?;
///         event::spawn(async move {
///             while let Ok(bytes) = client.read(4096).await {
///                 if client.write(&bytes).await.is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// }
///
/// event::run(serve())
/// # .unwrap()
/// ```
#[derive(Clone)]
pub struct ServerSocket {
    inner: Rc<Listener<Socket>>,
}

/// A listening socket of kind `T` (the part of `ServerSocket` and `UnixServerSocket` that is
/// the same).
pub(crate) struct Listener<T: StreamSocket> {
    /// The link to the loop it last accepted on (made at the first accept, made again when an
    /// accept runs on another loop). Declared before `io`: it stops accepting (io_uring's
    /// multishot accept) before the descriptor closes.
    source: RefCell<Option<ListenSource>>,
    /// `None` once closed: the descriptor is closed exactly once, by `close` or by drop.
    io: RefCell<Option<T::Listen>>,
    /// How many times it was registered: an accept that waited on an earlier registration
    /// starts afresh (its waiter and timer belonged to another loop).
    epoch: Cell<u32>,
    pub(crate) local: T::Addr,
    backoff_until: Cell<Option<Instant>>,
    /// Out of descriptors (or memory) and already said so: the error is reported once per
    /// episode, then `accept` retries quietly every `RESOURCE_BACKOFF` until one succeeds.
    exhausted: Cell<bool>,
    limit: Option<Rc<Limit>>,
    idle_timeout: Option<Duration>,
    /// `ListenOptions::nodelay`: TCP_NODELAY on every accepted connection.
    nodelay: bool,
}

/// The connection limit of a listener, shared with the sockets it accepted.
struct Limit {
    max: usize,
    open: Cell<usize>,
    at_limit: AtLimit,
    /// The accepts waiting for a place (woken when one frees, or when the listener closes).
    waiters: RefCell<Vec<Waker>>,
}

impl Limit {
    fn wake_all(&self) {
        if self.waiters.borrow().is_empty() {
            // Nobody waits for a place (every permit's drop asks).
            return;
        }
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

/// A place under a listener's connection limit, released when the socket is dropped.
pub(crate) struct Permit(Rc<Limit>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get() - 1);
        self.0.wake_all();
    }
}

impl fmt::Debug for ServerSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSocket")
            .field("local", &self.inner.local)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ServerSocket {
    /// Waits for the next connection.
    ///
    /// Errors about one connection only (it was reset before we took it) are skipped. When the
    /// process runs out of descriptors the error is returned once; later calls wait, retrying
    /// every 100 ms without a word, and return the next connection once descriptors are free
    /// again. A loop that logs the error and continues therefore neither spins nor floods its log. After
    /// [`close`](ServerSocket::close) it fails with [`SocketError::Closed`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use event::Socket;
    ///
    /// event::run(async {
    ///     let server = Socket::listen_on("127.0.0.1:0")?;
    ///     let client = Socket::connect(server.local_address()).await?;
    ///     let peer = server.accept().await?;
    ///     assert_eq!(peer.peer_address(), client.local_address()?);
    ///     // Nobody else connects: the accept gives up, and the listener stays usable.
    ///     let none = server.accept().timeout(Duration::from_millis(10)).await;
    ///     assert!(none.unwrap_err().is_timeout());
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn accept(&self) -> Accept<'_> {
        self.inner.accept()
    }

    /// The connections, as a [`Stream`](futures_core::Stream) that ends when the socket is closed.
    ///
    /// ```no_run
    /// event::run(async {
    ///     let server = event::Socket::listen(8080)?;
    ///     let mut connections = server.connections();
    ///     while let Some(client) = connections.next().await {
    ///         let client = client?;
    ///         event::spawn(async move { /* … */ drop(client) });
    ///     }
    ///     Ok::<(), event::SocketError>(())
    /// })?;
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn connections(&self) -> Connections {
        self.inner.connections()
    }

    /// The port the socket listens on (the one the kernel chose, for port 0).
    pub fn local_port(&self) -> u16 {
        self.inner.local.port()
    }

    /// The address the socket listens on.
    pub fn local_address(&self) -> SocketAddress {
        self.inner.local.into()
    }

    /// Whether every connection accepted here gets `TCP_NODELAY`
    /// ([`ListenOptions::nodelay`](crate::ListenOptions::nodelay)).
    ///
    /// ```
    /// let server = event::ListenOptions::new().nodelay(true).listen_on("127.0.0.1:0")?;
    /// assert!(server.nodelay());
    /// assert!(!event::Socket::listen_on("127.0.0.1:0")?.nodelay());
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn nodelay(&self) -> bool {
        self.inner.nodelay
    }

    /// Stops listening: closes the descriptor (new connections are refused), wakes a pending
    /// `accept` with [`SocketError::Closed`] and ends the `connections` stream. Idempotent, and
    /// callable from any task holding a clone.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether [`close`](ServerSocket::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T: StreamSocket> Listener<T> {
    pub(crate) fn new(io: T::Listen, local: T::Addr, limits: Limits) -> Listener<T> {
        Listener {
            source: RefCell::new(None),
            io: RefCell::new(Some(io)),
            epoch: Cell::new(0),
            local,
            backoff_until: Cell::new(None),
            exhausted: Cell::new(false),
            limit: limits.max_connections.map(|max| {
                Rc::new(Limit {
                    max,
                    open: Cell::new(0),
                    at_limit: limits.at_limit,
                    waiters: RefCell::new(Vec::new()),
                })
            }),
            idle_timeout: limits.idle_timeout,
            nodelay: limits.nodelay,
        }
    }

    /// Closes the descriptor (once), wakes a pending accept and the accepts waiting at the limit.
    pub(crate) fn close(&self) {
        let io = self.io.borrow_mut().take();
        if io.is_none() {
            return;
        }
        if let Some(source) = &*self.source.borrow() {
            // Before the descriptor closes: a multishot accept would keep the socket listening.
            source.stop();
            source.wake();
        }
        drop(io);
        trace::event!(info, local = %self.local, "listener closed");
        if let Some(limit) = &self.limit {
            limit.wake_all();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.io.borrow().is_none()
    }

    /// The listening descriptor, unless closed.
    pub(crate) fn io(&self) -> Ref<'_, Option<T::Listen>> {
        self.io.borrow()
    }

    /// `accept`'s future.
    pub(crate) fn accept(&self) -> Accept<'_, T> {
        Accept {
            listener: self,
            op: AcceptState::default(),
        }
    }

    /// `connections`' stream.
    pub(crate) fn connections(self: &Rc<Self>) -> Connections<T> {
        Connections {
            listener: self.clone(),
            op: AcceptState::default(),
        }
    }

    /// The registration with the loop running on this thread. A listener can outlive the loop
    /// it first accepted on (made before one `event::run`, served again in the next): when its
    /// registration belongs to a loop that is not the one running here, it moves to this one.
    /// `op` then starts afresh if it waited on the earlier registration.
    fn registration(&self, op: &mut AcceptState) -> Result<Ref<'_, ListenSource>, SocketError> {
        let here = self
            .source
            .borrow()
            .as_ref()
            .is_some_and(|src| event_loop::is_current(src.core()));
        if !here {
            self.register()?;
        }
        if op.epoch != self.epoch.get() {
            *op = AcceptState {
                op: OpState::new(op.op.timeout),
                pause: None,
                epoch: self.epoch.get(),
            };
        }
        Ok(Ref::map(self.source.borrow(), |src| {
            src.as_ref().expect("registered above")
        }))
    }

    /// Registers with the current loop, leaving the previous loop's reactor first (so that
    /// loop, if it runs again, can take the listener back).
    #[cold]
    fn register(&self) -> Result<(), SocketError> {
        let core = event_loop::current().ok_or(SocketError::NoEventLoop)?;
        let mut io = self.io.borrow_mut();
        let io = io.as_mut().ok_or(SocketError::Closed)?;
        let mut slot = self.source.borrow_mut();
        // Connections the previous loop's ring accepted and nobody took: handed out here.
        let carried = slot
            .take()
            .map(|previous| previous.leave(io))
            .unwrap_or_default();
        let src = ListenSource::new(core, io, carried).map_err(|source| SocketError::Io {
            op: "register listener",
            source,
        })?;
        *slot = Some(src);
        self.epoch.set(self.epoch.get().wrapping_add(1));
        Ok(())
    }

    pub(super) fn poll_accept(
        &self,
        op: &mut AcceptState,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, SocketError>> {
        if self.io.borrow().is_none() {
            return Poll::Ready(Err(SocketError::Closed));
        }
        // A burst of connections must not keep the accepting task from yielding.
        ready!(crate::executor::coop::poll_proceed(cx));
        let reg = match self.registration(op) {
            Ok(reg) => reg,
            Err(e) => return Poll::Ready(Err(e)),
        };
        ready!(self.poll_backoff(op, &reg, cx));
        loop {
            if self.waits_for_a_permit(cx) {
                // Leave the connection in the backlog until a permit is released (or the
                // listener closes, or this accept's own timeout runs out).
                reg.pause();
                if let Some(after) = op.op.poll_deadline(reg.core(), cx) {
                    return Poll::Ready(Err(T::timeout("accept", &self.local, after, 0)));
                }
                return Poll::Pending;
            }
            let accepted = op.op.poll_listen(&reg, cx, || match &*self.io.borrow() {
                Some(l) => T::accept(l, &self.local),
                None => Err(io::ErrorKind::NotConnected.into()),
            });
            let accepted = accepted.map(|polled| match polled {
                OpPoll::Done(Ok(Accepted::Adopt(fd, peer))) => {
                    OpPoll::Done(T::adopt(fd, &self.local, peer).map(Accepted::Ready))
                }
                other => other,
            });
            return match accepted {
                Poll::Pending if self.io.borrow().is_none() => {
                    Poll::Ready(Err(SocketError::Closed))
                }
                Poll::Pending => Poll::Pending,
                Poll::Ready(OpPoll::TimedOut(after)) => {
                    Poll::Ready(Err(T::timeout("accept", &self.local, after, 0)))
                }
                Poll::Ready(OpPoll::Done(Ok(Accepted::Ready((stream, peer))))) => {
                    match self.take_accepted(reg.core(), stream, peer) {
                        Some(r) => {
                            if self.full_and_waits() {
                                // The last place is taken: stop accepting now, not at the next
                                // accept (which may come much later), so the next clients wait
                                // in the kernel's backlog rather than in the driver's queue.
                                reg.pause();
                            }
                            Poll::Ready(r)
                        }
                        None => continue,
                    }
                }
                Poll::Ready(OpPoll::Done(Err(_))) if self.io.borrow().is_none() => {
                    Poll::Ready(Err(SocketError::Closed))
                }
                Poll::Ready(OpPoll::Done(Err(e))) if is_per_connection(&e) => {
                    trace::event!(debug, error = %e, "accept: connection failed before it was taken; skipped");
                    continue;
                }
                Poll::Ready(OpPoll::Done(Err(source))) => self.accept_failed(op, cx, source),
                Poll::Ready(OpPoll::Done(Ok(Accepted::Adopt(..)))) => unreachable!("adopted above"),
            };
        }
    }

    /// Out of descriptors a moment ago: wait out the pause before trying again.
    fn poll_backoff(
        &self,
        op: &mut AcceptState,
        reg: &ListenSource,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if let Some(until) = self.backoff_until.get() {
            let pause = op.pause.get_or_insert_with(|| Deadline::at(until));
            if !pause.poll_elapsed(reg.core(), cx) {
                return Poll::Pending;
            }
            op.pause = None;
            self.backoff_until.set(None);
        }
        Poll::Ready(())
    }

    /// Whether the listener is at its connection limit with `AtLimit::Wait`.
    fn full_and_waits(&self) -> bool {
        self.limit
            .as_ref()
            .is_some_and(|l| l.at_limit == AtLimit::Wait && l.open.get() >= l.max)
    }

    /// At the connection limit with `AtLimit::Wait`: the task is queued to be woken when a
    /// permit is released.
    fn waits_for_a_permit(&self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = &self.limit else {
            return false;
        };
        if limit.at_limit != AtLimit::Wait || limit.open.get() < limit.max {
            return false;
        }
        let mut waiters = limit.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        true
    }

    /// A connection was accepted: a `Socket` with its permit and idle timeout, or `None` when
    /// it was closed at the limit (`AtLimit::Close`).
    fn take_accepted(
        &self,
        core: &Rc<event_loop::Core>,
        stream: T::Io,
        peer: T::Addr,
    ) -> Option<Result<T, SocketError>> {
        self.exhausted.set(false);
        let permit = match &self.limit {
            None => None,
            Some(limit) if limit.open.get() >= limit.max => {
                // AtLimit::Close: the connection is closed as it is dropped.
                trace::event!(debug, %peer, max = limit.max, "at the connection limit: closed");
                drop(stream);
                return None;
            }
            Some(limit) => {
                limit.open.set(limit.open.get() + 1);
                Some(Permit(limit.clone()))
            }
        };
        trace::event!(debug, %peer, local = %self.local, "accepted");
        Some(match Stream::accepted(core.clone(), stream) {
            Ok(s) => {
                if self.nodelay {
                    s.set_nodelay_accepted();
                }
                Ok(T::wrap(Conn::accepted(s, peer, permit, self.idle_timeout)))
            }
            Err(source) => Err(SocketError::Io {
                op: "register connection",
                source,
            }),
        })
    }

    /// An accept failed for the listener (not for one connection): out of resources backs off
    /// (reported once), anything else is reported.
    fn accept_failed(
        &self,
        op: &mut AcceptState,
        cx: &mut Context<'_>,
        source: io::Error,
    ) -> Poll<Result<T, SocketError>> {
        if is_resource_exhaustion(&source) {
            self.backoff_until
                .set(Some(Instant::now() + RESOURCE_BACKOFF));
            if self.exhausted.replace(true) {
                // Already reported: retry quietly after the pause.
                return self.poll_accept(op, cx);
            }
            trace::event!(error, local = %self.local, error = %source, "accept: out of resources; backing off");
        } else {
            trace::event!(warn, local = %self.local, error = %source, "accept failed");
        }
        Poll::Ready(Err(T::accept_error(&self.local, source)))
    }

    pub(super) fn cancel(&self, op: &mut AcceptState) {
        if let Some(src) = &*self.source.borrow()
            && op.epoch == self.epoch.get()
            && op.op.take_waiting()
        {
            src.cancel_wait();
        }
    }
}

/// Errors that concern one incoming connection, not the listener: skip and accept the next.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
        )
    ) || e.kind() == io::ErrorKind::ConnectionAborted
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
