//! `ServerSocket`: a listening socket, its `accept` and its `connections` stream.

use std::cell::{Cell, Ref, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Type};

use super::op::{OpPoll, OpState};
use super::{Socket, SocketAddress, SocketError};
use crate::event_loop;
use crate::reactor::{Direction, Registration};
use crate::time::Deadline;
use crate::trace;

/// How long `accept` pauses after the process or system ran out of a resource (descriptors,
/// memory), so a full descriptor table never turns the loop into a busy spin.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

/// Options for a listening socket, for what [`Socket::listen`] does not set.
///
/// ```
/// let server = event::ListenOptions::new()
///     .backlog(1024)
///     .reuse_port(true)
///     .listen_on(event::SocketAddress::localhost(0))?;
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    backlog: i32,
    reuse_address: bool,
    reuse_port: bool,
    ipv6_only: Option<bool>,
    max_connections: Option<usize>,
    at_limit: AtLimit,
    idle_timeout: Option<Duration>,
}

/// What a listener with a connection limit does with new connections while at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtLimit {
    /// Leave them in the kernel's backlog until a connection closes (clients wait; once the
    /// backlog is full the kernel stops completing handshakes).
    #[default]
    Wait,
    /// Accept and close them at once (clients see the connection end immediately).
    Close,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions::new()
    }
}

/// The backlog a listener gets unless told otherwise: the kernel's maximum, as Go does.
fn default_backlog() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1024)
}

impl ListenOptions {
    /// The kernel's largest backlog (`net.core.somaxconn`, 4096 on current Linux; 1024 where it
    /// cannot be read), `SO_REUSEADDR` on, `SO_REUSEPORT` off, `IPV6_V6ONLY` as the system sets
    /// it. (The Swift original's backlog of 128 drops SYNs in a burst of a few thousand
    /// clients, who then retry a second later; [`backlog`](ListenOptions::backlog) sets it.)
    pub fn new() -> ListenOptions {
        ListenOptions {
            backlog: default_backlog(),
            reuse_address: true,
            reuse_port: false,
            ipv6_only: None,
            max_connections: None,
            at_limit: AtLimit::Wait,
            idle_timeout: None,
        }
    }

    /// At most `max` connections accepted from this listener are open at once; see [`AtLimit`]
    /// for what happens to the others. A connection counts until its `Socket` is dropped.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// What to do with new connections at the limit (default [`AtLimit::Wait`]).
    pub fn at_limit(mut self, at_limit: AtLimit) -> Self {
        self.at_limit = at_limit;
        self
    }

    /// Gives every accepted socket `timeout` as its default read and write timeout (what
    /// [`Socket::set_read_timeout`] and [`Socket::set_write_timeout`] set; each socket can still
    /// change its own): a read that waits longer than `timeout` for the next bytes fails with
    /// [`SocketError::Timeout`], a write that waits longer than `timeout` for the peer to take
    /// more fails with [`SocketError::WriteTimeout`]. So a client that goes silent, or stops
    /// reading, is dropped by the task's next read or write failing, with no per-call code.
    ///
    /// It bounds each wait, not the connection: a client that trickles a byte every 0.5 s
    /// never trips a 1 s idle timeout (a slow-but-steady slowloris survives it), and no timer
    /// runs while the task is not reading or writing. For a limit on a connection's whole
    /// life (or on receiving one request), wrap the task (or the reads) in
    /// [`event::timeout`](crate::timeout):
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use event::{ListenOptions, SocketError};
    ///
    /// async fn serve() -> Result<(), SocketError> {
    ///     let server = ListenOptions::new()
    ///         .idle_timeout(Duration::from_secs(10)) // each read or write: 10 s at most
    ///         .listen_on("127.0.0.1:8080")?;
    ///     loop {
    ///         let client = server.accept().await?;
    ///         // The whole connection: 60 s at most, however steadily the client trickles.
    ///         event::spawn(event::timeout(Duration::from_secs(60), async move {
    ///             while let Ok(bytes) = client.read(4096).await {
    ///                 if client.write(&bytes).await.is_err() {
    ///                     break;
    ///                 }
    ///             }
    ///         }));
    ///     }
    /// }
    /// # drop(serve());
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// The length of the queue of connections the kernel completes before `accept`.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.min(i32::MAX as u32) as i32;
        self
    }

    /// `SO_REUSEADDR`: rebind a port whose old connections are in `TIME_WAIT`.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`: several sockets (one per loop) listen on the same port, and the kernel
    /// spreads connections among them.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `IPV6_V6ONLY` for an IPv6 address: `true` accepts only IPv6, `false` IPv4 too.
    pub fn ipv6_only(mut self, on: bool) -> Self {
        self.ipv6_only = Some(on);
        self
    }

    /// Creates the socket (non-blocking, close-on-exec), sets the options, binds and listens.
    /// `addr` takes the forms `connect` does (see [`ToListenAddress`](crate::ToListenAddress)):
    /// `"127.0.0.1:9000"`, a `SocketAddr`, a [`SocketAddress`], `(ip, port)`.
    ///
    /// It can be called before the loop runs; the socket joins the loop at its first `accept`.
    pub fn listen_on(
        &self,
        addr: impl crate::ToListenAddress,
    ) -> Result<ServerSocket, SocketError> {
        let std = self.bind(addr.to_listen_address()?.into())?;
        let local = local_addr(&std)?;
        Ok(self.wrap(std, local))
    }

    /// Creates, configures, binds and listens: a `Send` standard listener, so that listeners can
    /// be made on one thread and served on another (see [`PerCore`](crate::PerCore)).
    pub(crate) fn bind(&self, addr: SocketAddr) -> Result<std::net::TcpListener, SocketError> {
        let socket = self
            .socket(addr)
            .map_err(|source| SocketError::Socket { addr, source })?;
        socket
            .bind(&addr.into())
            .map_err(|source| SocketError::Bind { addr, source })?;
        socket
            .listen(self.backlog)
            .map_err(|source| SocketError::Listen { addr, source })?;
        Ok(socket.into())
    }

    /// A new socket for `addr` with these options set, not yet bound.
    pub(crate) fn socket(&self, addr: SocketAddr) -> std::io::Result<socket2::Socket> {
        // socket2 sets close-on-exec on Unix (and SO_NOSIGPIPE on Apple platforms).
        let socket =
            socket2::Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        if self.reuse_address {
            socket.set_reuse_address(true)?;
        }
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        if let (Some(only), true) = (self.ipv6_only, addr.is_ipv6()) {
            socket.set_only_v6(only)?;
        }
        Ok(socket)
    }

    /// Turns a bound, listening, non-blocking standard listener into a `ServerSocket` with these
    /// options' connection limit and idle timeout.
    pub(crate) fn wrap(&self, std: std::net::TcpListener, local: SocketAddr) -> ServerSocket {
        ServerSocket {
            inner: Rc::new(Listener {
                io: RefCell::new(Some(mio::net::TcpListener::from_std(std))),
                reg: RefCell::new(None),
                epoch: Cell::new(0),
                local,
                backoff_until: Cell::new(None),
                exhausted: Cell::new(false),
                limit: self.max_connections.map(|max| {
                    Rc::new(Limit {
                        max,
                        open: Cell::new(0),
                        at_limit: self.at_limit,
                        waiters: RefCell::new(Vec::new()),
                    })
                }),
                idle_timeout: self.idle_timeout,
            }),
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
    inner: Rc<Listener>,
}

struct Listener {
    /// `None` once closed: the descriptor is closed exactly once, by `close` or by drop.
    io: RefCell<Option<mio::net::TcpListener>>,
    /// The registration with the loop it last accepted on (made at the first accept, made
    /// again when an accept runs on another loop).
    reg: RefCell<Option<Registration>>,
    /// How many times it was registered: an accept that waited on an earlier registration
    /// starts afresh (its waiter and timer belonged to another loop).
    epoch: Cell<u32>,
    local: SocketAddr,
    backoff_until: Cell<Option<Instant>>,
    /// Out of descriptors (or memory) and already said so: the error is reported once per
    /// episode, then `accept` retries quietly every `RESOURCE_BACKOFF` until one succeeds.
    exhausted: Cell<bool>,
    limit: Option<Rc<Limit>>,
    idle_timeout: Option<Duration>,
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
    pub fn accept(&self) -> Accept<'_> {
        Accept {
            listener: &self.inner,
            op: AcceptState::default(),
        }
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
        Connections {
            listener: self.inner.clone(),
            op: AcceptState::default(),
        }
    }

    /// The port the socket listens on (the one the kernel chose, for port 0).
    pub fn local_port(&self) -> u16 {
        self.inner.local.port()
    }

    /// The address the socket listens on.
    pub fn local_address(&self) -> SocketAddress {
        self.inner.local.into()
    }

    /// Stops listening: closes the descriptor (new connections are refused), wakes a pending
    /// `accept` with [`SocketError::Closed`] and ends the `connections` stream. Idempotent, and
    /// callable from any task holding a clone.
    pub fn close(&self) {
        let io = self.inner.io.borrow_mut().take();
        if io.is_none() {
            return;
        }
        drop(io);
        trace::event!(info, local = %self.inner.local, "listener closed");
        if let Some(reg) = &*self.inner.reg.borrow() {
            reg.wake(Direction::Read);
        }
        if let Some(limit) = &self.inner.limit {
            limit.wake_all();
        }
    }

    /// Whether [`close`](ServerSocket::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.io.borrow().is_none()
    }
}

impl Listener {
    /// The registration with the loop running on this thread. A listener can outlive the loop
    /// it first accepted on (made before one `event::run`, served again in the next): when its
    /// registration belongs to a loop that is not the one running here, it moves to this one.
    /// `op` then starts afresh if it waited on the earlier registration.
    fn registration(&self, op: &mut AcceptState) -> Result<Ref<'_, Registration>, SocketError> {
        let here = self
            .reg
            .borrow()
            .as_ref()
            .is_some_and(|reg| event_loop::is_running(reg.core().shared.id));
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
        Ok(Ref::map(self.reg.borrow(), |reg| {
            reg.as_ref().expect("registered above")
        }))
    }

    /// Registers with the current loop, leaving the previous loop's reactor first (so that
    /// loop, if it runs again, can take the listener back).
    #[cold]
    fn register(&self) -> Result<(), SocketError> {
        let core = event_loop::current().ok_or(SocketError::NoEventLoop)?;
        let mut io = self.io.borrow_mut();
        let io = io.as_mut().ok_or(SocketError::Closed)?;
        let mut slot = self.reg.borrow_mut();
        if let Some(previous) = slot.take() {
            // It fails only if that loop's epoll instance no longer watches the descriptor.
            let _ = previous.core().reactor.registry().deregister(io);
        }
        let reg = Registration::new(core, io).map_err(|source| SocketError::Io {
            op: "register listener",
            source,
        })?;
        *slot = Some(reg);
        self.epoch.set(self.epoch.get().wrapping_add(1));
        Ok(())
    }

    fn poll_accept(
        &self,
        op: &mut AcceptState,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Socket, SocketError>> {
        if self.io.borrow().is_none() {
            return Poll::Ready(Err(SocketError::Closed));
        }
        // A burst of connections must not keep the accepting task from yielding.
        ready!(crate::executor::coop::poll_proceed(cx));
        let reg = match self.registration(op) {
            Ok(reg) => reg,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Some(until) = self.backoff_until.get() {
            // Out of descriptors a moment ago: wait before trying again.
            let pause = op.pause.get_or_insert_with(|| Deadline::at(until));
            if !pause.poll_elapsed(reg.core(), cx) {
                return Poll::Pending;
            }
            op.pause = None;
            self.backoff_until.set(None);
        }
        loop {
            if let Some(limit) = &self.limit
                && limit.at_limit == AtLimit::Wait
                && limit.open.get() >= limit.max
            {
                // Leave the connection in the backlog until a permit is released (or the
                // listener closes, or this accept's own timeout runs out).
                let mut waiters = limit.waiters.borrow_mut();
                if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
                drop(waiters);
                if let Some(after) = op.op.poll_deadline(reg.core(), cx) {
                    return Poll::Ready(Err(SocketError::accept_timeout(self.local, after)));
                }
                return Poll::Pending;
            }
            let accepted = op
                .op
                .poll(&reg, Direction::Read, cx, || match &*self.io.borrow() {
                    Some(l) => l.accept().map(|c| (c, false)),
                    None => Err(io::ErrorKind::NotConnected.into()),
                });
            return match accepted {
                Poll::Pending => {
                    if self.io.borrow().is_none() {
                        Poll::Ready(Err(SocketError::Closed))
                    } else {
                        Poll::Pending
                    }
                }
                Poll::Ready(OpPoll::TimedOut(after)) => {
                    Poll::Ready(Err(SocketError::accept_timeout(self.local, after)))
                }
                Poll::Ready(OpPoll::Done(Ok((stream, peer)))) => {
                    self.exhausted.set(false);
                    let permit = match &self.limit {
                        None => None,
                        Some(limit) if limit.open.get() >= limit.max => {
                            // AtLimit::Close: the connection is closed as it is dropped.
                            trace::event!(debug, %peer, max = limit.max, "at the connection limit: closed");
                            drop(stream);
                            continue;
                        }
                        Some(limit) => {
                            limit.open.set(limit.open.get() + 1);
                            Some(Permit(limit.clone()))
                        }
                    };
                    trace::event!(debug, %peer, local = %self.local, "accepted");
                    match Socket::from_mio(reg.core().clone(), stream, peer) {
                        Ok(s) => Poll::Ready(Ok(match permit {
                            Some(p) => s.with_permit(p, self.idle_timeout),
                            None => s.with_idle_timeout(self.idle_timeout),
                        })),
                        Err(source) => Poll::Ready(Err(SocketError::Io {
                            op: "register connection",
                            source,
                        })),
                    }
                }
                Poll::Ready(OpPoll::Done(Err(_))) if self.io.borrow().is_none() => {
                    Poll::Ready(Err(SocketError::Closed))
                }
                Poll::Ready(OpPoll::Done(Err(e))) if is_per_connection(&e) => {
                    trace::event!(debug, error = %e, "accept: connection failed before it was taken; skipped");
                    continue;
                }
                Poll::Ready(OpPoll::Done(Err(source))) => {
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
                    Poll::Ready(Err(SocketError::Accept {
                        addr: self.local,
                        source,
                    }))
                }
            };
        }
    }

    fn cancel(&self, op: &mut AcceptState) {
        if let Some(reg) = &*self.reg.borrow()
            && op.epoch == self.epoch.get()
        {
            op.op.cancel(reg, Direction::Read);
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

/// The future of [`ServerSocket::accept`].
#[must_use = "futures do nothing unless awaited"]
pub struct Accept<'a> {
    listener: &'a Listener,
    op: AcceptState,
}

/// An accept's timeout and waiter, plus its pause after running out of descriptors.
#[derive(Default)]
struct AcceptState {
    op: OpState,
    pause: Option<Deadline>,
    /// The listener's `epoch` when this accept last polled (its waiter is on that registration).
    epoch: u32,
}

impl Accept<'_> {
    /// Gives up with [`SocketError::Timeout`] if no connection arrives within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.op.op.timeout = Some(timeout);
        self
    }
}

impl Future for Accept<'_> {
    type Output = Result<Socket, SocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.listener.poll_accept(&mut this.op, cx)
    }
}

impl Drop for Accept<'_> {
    fn drop(&mut self) {
        self.listener.cancel(&mut self.op);
    }
}

/// The stream of [`ServerSocket::connections`].
#[must_use = "streams do nothing unless polled"]
pub struct Connections {
    listener: Rc<Listener>,
    op: AcceptState,
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("local", &self.listener.local)
            .finish()
    }
}

impl Connections {
    /// The next connection, or `None` once the listener is closed. (The same as
    /// `StreamExt::next`, without needing an extension trait.)
    pub async fn next(&mut self) -> Option<Result<Socket, SocketError>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl futures_core::Stream for Connections {
    type Item = Result<Socket, SocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.listener.poll_accept(&mut this.op, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(SocketError::Closed)) => Poll::Ready(None),
            Poll::Ready(r) => Poll::Ready(Some(r)),
        }
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        self.listener.cancel(&mut self.op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Linux forces IPV6_V6ONLY on for a socket bound to a specific address such as ::1, so the
    // option is only observable before the bind (or on a wildcard address, which tests do not
    // bind): check what the options set on the new socket.
    #[test]
    fn options_are_set_on_the_socket_before_bind() {
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        for only in [true, false] {
            let socket = ListenOptions::new().ipv6_only(only).socket(v6).unwrap();
            assert_eq!(socket.only_v6().unwrap(), only);
        }
        let plain = ListenOptions::new()
            .reuse_address(false)
            .socket(v6)
            .unwrap();
        assert!(!plain.reuse_address().unwrap() && !plain.reuse_port().unwrap());
        let shared = ListenOptions::new().reuse_port(true).socket(v6).unwrap();
        assert!(shared.reuse_address().unwrap() && shared.reuse_port().unwrap());
        assert!(shared.nonblocking().unwrap());
    }
}
