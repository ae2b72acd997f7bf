//! `PerCore`: one event loop per core, each with its own listener on the same port
//! (`SO_REUSEPORT`), sharing nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};

use crate::event_loop;
use crate::executor::{JoinError, LoopHandle, panic_message};
use crate::net::listener::local_addr;
use crate::{
    Backend, Builder, EventLoop, ListenOptions, ServerSocket, SocketError, ToListenAddress,
    UdpOptions, UdpSocket,
};

/// Runs a server on several event loops, one thread each.
///
/// With a single loop (`threads(1)`) no thread is started: the loop runs on the calling thread,
/// which `run` and `listen` block until it is done in any case (unless a loop is already running
/// on the calling thread: then the one loop gets its own thread, as several would). What the
/// loop's tasks keep in thread-locals then lives on the calling thread after `run` returns.
///
/// The kernel spreads incoming connections over the loops' listeners (`SO_REUSEPORT`), and each
/// connection's task stays on the loop that accepted it, so nothing needs to be `Send`. The default
/// is one loop per available core.
///
/// ```
/// use event::{ListenOptions, PerCore, SocketAddress};
///
/// let results = PerCore::new().threads(2).listen(
///     &ListenOptions::new(),
///     SocketAddress::localhost(0),
///     |server, ctx| async move {
///         // Each loop serves its own listener; here we just close it.
///         server.close();
///         ctx.index()
///     },
/// )?;
/// let indexes: Vec<usize> = results.into_iter().map(Result::unwrap).collect();
/// assert_eq!(indexes, vec![0, 1]);
/// # Ok::<(), event::SocketError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PerCore {
    threads: usize,
    builder: Builder,
    share_port: bool,
}

impl Default for PerCore {
    fn default() -> PerCore {
        PerCore::new()
    }
}

/// What a loop started by [`PerCore`] knows about itself and its siblings.
#[derive(Debug, Clone)]
pub struct LoopContext {
    index: usize,
    loops: Arc<[LoopHandle]>,
}

impl LoopContext {
    /// This loop's index, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Handles to every loop that started (this one included), in index order: spawn a `Send`
    /// future on a sibling with [`LoopHandle::spawn`].
    pub fn loops(&self) -> &[LoopHandle] {
        &self.loops
    }
}

impl PerCore {
    /// One loop per available core (`std::thread::available_parallelism`).
    pub fn new() -> PerCore {
        PerCore {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            builder: Builder::new(),
            share_port: false,
        }
    }

    /// The driver of every loop (by default `EVENT_BACKEND`, else [`Backend::Auto`]).
    pub fn backend(mut self, backend: Backend) -> PerCore {
        self.builder = self.builder.backend(backend);
        self
    }

    /// Sets the number of loops (at least one).
    pub fn threads(mut self, threads: usize) -> PerCore {
        self.threads = threads.max(1);
        self
    }

    /// The number of loops.
    pub fn thread_count(&self) -> usize {
        self.threads
    }

    /// Whether [`listen`](PerCore::listen) may join other sockets already listening on its port
    /// with `SO_REUSEPORT` (another process of the same user, or another `PerCore`), which then
    /// share its connections. Off by default: `listen` refuses a port another socket listens on
    /// with [`SocketError::Bind`] (`EADDRINUSE`), as a single listener does, instead of silently
    /// taking part of that port's traffic. On, every listener gets `SO_REUSEPORT`, even with
    /// one loop.
    ///
    /// ```
    /// use event::{ListenOptions, PerCore};
    ///
    /// let other = ListenOptions::new().reuse_port(true).listen_on("127.0.0.1:0")?;
    /// let port = other.local_port();
    /// let serve = |server: event::ServerSocket, _| async move { server.close() };
    /// let refused = PerCore::new().threads(2).listen(&ListenOptions::new(), ("127.0.0.1", port), serve);
    /// assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::EADDRINUSE));
    /// let shared = PerCore::new()
    ///     .threads(2)
    ///     .share_port(true)
    ///     .listen(&ListenOptions::new(), ("127.0.0.1", port), serve)?;
    /// assert_eq!(shared.len(), 2);
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn share_port(mut self, share: bool) -> PerCore {
        self.share_port = share;
        self
    }

    /// Runs `make(ctx)` on each loop until all complete; returns each loop's output in index
    /// order. A panic in one loop is that loop's `Err(JoinError::Panicked)`; the others run on.
    /// If a loop cannot be created (out of descriptors, say), none runs and every result is
    /// `Err(JoinError::LoopFailed)`.
    pub fn run<F, Fut>(&self, make: F) -> Vec<Result<Fut::Output, JoinError>>
    where
        F: Fn(LoopContext) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        run_seeded(
            self.builder.clone(),
            vec![(); self.threads],
            move |ctx, ()| make(ctx),
        )
    }

    /// Binds one listener per loop on `addr` (port 0 picks one free port for all of them), with
    /// `SO_REUSEPORT` when there is more than one loop, then runs `serve(listener, ctx)` on each.
    /// Binding errors are returned before any loop starts.
    ///
    /// A port another socket already listens on is refused ([`SocketError::Bind`],
    /// `EADDRINUSE`), however many loops there are: a probe binds it without `SO_REUSEPORT`
    /// first. To join such sockets on purpose, see [`share_port`](PerCore::share_port).
    pub fn listen<F, Fut>(
        &self,
        options: &ListenOptions,
        addr: impl ToListenAddress,
        serve: F,
    ) -> Result<Vec<Result<Fut::Output, JoinError>>, SocketError>
    where
        F: Fn(ServerSocket, LoopContext) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let reuse_port = self.threads > 1 || self.share_port;
        let options = options.clone().reuse_port(reuse_port);
        let addr: SocketAddr = addr.to_listen_address()?.into();
        if reuse_port && !self.share_port && addr.port() != 0 {
            refuse_a_port_in_use(&options, addr)?;
        }
        let first = options.bind(addr)?;
        let local = local_addr(&first)?;
        let mut listeners = vec![(first, local)];
        for _ in 1..self.threads {
            let std = options.bind(local)?;
            listeners.push((std, local));
        }
        Ok(run_seeded(
            self.builder.clone(),
            listeners,
            move |ctx, (std, local)| serve(options.wrap(std, local), ctx),
        ))
    }
}

impl PerCore {
    /// Binds one UDP socket per loop on `addr` (port 0 picks one free port for all of them),
    /// with `SO_REUSEPORT` when there is more than one loop (the kernel then spreads datagrams
    /// over the sockets by sender), then runs `serve(socket, ctx)` on each. Binding errors are
    /// returned before any loop starts; as for [`listen`](PerCore::listen), a port another
    /// socket is bound to is refused unless [`share_port`](PerCore::share_port) asks to join it.
    ///
    /// ```
    /// use event::{PerCore, UdpOptions};
    ///
    /// let results = PerCore::new().threads(2).bind_udp(
    ///     &UdpOptions::new(),
    ///     "127.0.0.1:0",
    ///     |socket, ctx| async move { (ctx.index(), socket.local_address().port()) },
    /// )?;
    /// let (a, b) = (results[0].as_ref().unwrap(), results[1].as_ref().unwrap());
    /// assert_eq!((a.0, b.0), (0, 1));
    /// assert_eq!(a.1, b.1, "one port for every loop");
    /// # Ok::<(), event::SocketError>(())
    /// ```
    pub fn bind_udp<F, Fut>(
        &self,
        options: &UdpOptions,
        addr: impl ToListenAddress,
        serve: F,
    ) -> Result<Vec<Result<Fut::Output, JoinError>>, SocketError>
    where
        F: Fn(UdpSocket, LoopContext) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let reuse_port = self.threads > 1 || self.share_port;
        let addr: SocketAddr = addr.to_listen_address()?.into();
        if reuse_port && !self.share_port && addr.port() != 0 {
            // The probe binds without SO_REUSEPORT: a port in use is refused, not joined.
            drop(options.clone().reuse_port(false).bind_std(addr)?);
        }
        let options = options.clone().reuse_port(reuse_port);
        let first = options.bind_std(addr)?;
        let local = first.local_addr().map_err(|source| SocketError::Io {
            op: "getsockname",
            source,
        })?;
        let mut sockets = vec![first];
        for _ in 1..self.threads {
            sockets.push(options.bind_std(local)?);
        }
        Ok(run_seeded(
            self.builder.clone(),
            sockets,
            move |ctx, std| serve(UdpSocket::bound_at(std, local), ctx),
        ))
    }
}

/// Fails with `EADDRINUSE` if another socket listens on `addr`: `SO_REUSEPORT` alone would let
/// our listeners join it and share its connections. The probe binds without `SO_REUSEPORT` (and
/// never listens, so no client can land on it), then closes.
fn refuse_a_port_in_use(options: &ListenOptions, addr: SocketAddr) -> Result<(), SocketError> {
    let probe = options
        .clone()
        .reuse_port(false)
        .socket(addr)
        .map_err(|source| SocketError::Socket { addr, source })?;
    probe
        .bind(&addr.into())
        .map_err(|source| SocketError::Bind { addr, source })
}

/// Starts one loop thread per seed (one seed: the calling thread runs the loop); each builds its
/// loop, learns its siblings' handles, then runs `make(ctx, seed)` to completion.
fn run_seeded<S, F, Fut>(
    builder: Builder,
    seeds: Vec<S>,
    make: F,
) -> Vec<Result<Fut::Output, JoinError>>
where
    S: Send + 'static,
    F: Fn(LoopContext, S) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    if seeds.len() == 1 && event_loop::current().is_none() {
        // One loop runs on the calling thread (unless a loop already runs there: a loop cannot
        // run inside another, so then it gets a thread like the others). No thread to start
        // and join, and a program with no other thread stays single-threaded: glibc's `recv`
        // and `send` then skip their cancellation-point bookkeeping, and the kernel looks up
        // descriptors without atomic reference counts.
        let seed = seeds.into_iter().next().expect("one seed");
        return vec![run_on_this_thread(builder, seed, make)];
    }
    let make = Arc::new(make);
    let (handles_tx, handles_rx) = mpsc::channel::<(usize, Option<LoopHandle>)>();
    let mut starts = Vec::new();
    let mut threads = Vec::new();
    for (index, seed) in seeds.into_iter().enumerate() {
        let (start_tx, start_rx) = mpsc::channel::<Arc<[LoopHandle]>>();
        starts.push(start_tx);
        let thread = LoopThread {
            index,
            builder: builder.clone(),
            handles_tx: handles_tx.clone(),
            start_rx,
        };
        let make = make.clone();
        threads.push(thread.spawn(move |ctx| make(ctx, seed)));
    }
    drop(handles_tx);
    let started = threads.iter().filter(|t| t.is_ok()).count();
    start_all_or_none(handles_rx, started, starts);
    threads
        .into_iter()
        .map(|t| match t {
            Ok(join) => join
                .join()
                .unwrap_or_else(|p| Err(JoinError::Panicked(panic_message(p)))),
            Err(e) => Err(e),
        })
        .collect()
}

/// The one loop of `threads(1)`, on the calling thread.
fn run_on_this_thread<S, F, Fut>(
    builder: Builder,
    seed: S,
    make: F,
) -> Result<Fut::Output, JoinError>
where
    F: Fn(LoopContext, S) -> Fut,
    Fut: Future,
{
    let lp = builder
        .build()
        .map_err(|e| JoinError::LoopFailed(e.to_string()))?;
    let ctx = LoopContext {
        index: 0,
        loops: Arc::from([lp.handle()]),
    };
    run_loop(&lp, || make(ctx, seed))
}

/// One loop's thread before it starts: it builds its loop, reports the loop's handle, and waits
/// for every other loop's handle before it runs its future.
struct LoopThread {
    index: usize,
    builder: Builder,
    handles_tx: mpsc::Sender<(usize, Option<LoopHandle>)>,
    start_rx: mpsc::Receiver<Arc<[LoopHandle]>>,
}

/// What a loop's thread returns.
type LoopJoin<T> = std::thread::JoinHandle<Result<T, JoinError>>;

impl LoopThread {
    fn spawn<Fut, M>(self, make: M) -> Result<LoopJoin<Fut::Output>, JoinError>
    where
        M: FnOnce(LoopContext) -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let LoopThread {
            index,
            builder,
            handles_tx,
            start_rx,
        } = self;
        std::thread::Builder::new()
            .name(format!("event-loop-{index}"))
            .spawn(move || {
                let lp = match builder.build() {
                    Ok(lp) => lp,
                    Err(e) => {
                        let _ = handles_tx.send((index, None));
                        return Err(JoinError::LoopFailed(e.to_string()));
                    }
                };
                let _ = handles_tx.send((index, Some(lp.handle())));
                let loops = start_rx
                    .recv()
                    .map_err(|_| JoinError::LoopFailed("another loop could not start".into()))?;
                run_loop(&lp, || make(LoopContext { index, loops }))
            })
            .map_err(|e| JoinError::LoopFailed(e.to_string()))
    }
}

/// Collects the handles of the `started` threads' loops and, if every loop was built, sends the
/// whole list to each. All or nothing: if a loop could not start, the others are not started
/// either (dropping their start channels ends them with `LoopFailed`), so `loops()[i]` is always
/// loop `i`.
fn start_all_or_none(
    handles_rx: mpsc::Receiver<(usize, Option<LoopHandle>)>,
    started: usize,
    starts: Vec<mpsc::Sender<Arc<[LoopHandle]>>>,
) {
    let mut handles: Vec<(usize, LoopHandle)> = handles_rx
        .iter()
        .take(started)
        .filter_map(|(i, h)| h.map(|h| (i, h)))
        .collect();
    handles.sort_by_key(|(i, _)| *i);
    if handles.len() == starts.len() {
        let loops: Arc<[LoopHandle]> = handles.into_iter().map(|(_, h)| h).collect();
        for start in starts {
            let _ = start.send(loops.clone());
        }
    }
}

/// Makes the loop's future and runs it on `lp` to completion; a panic in either becomes
/// `JoinError::Panicked`.
fn run_loop<Fut: Future>(
    lp: &EventLoop,
    make: impl FnOnce() -> Fut,
) -> Result<Fut::Output, JoinError> {
    catch_unwind(AssertUnwindSafe(|| lp.block_on(make())))
        .map_err(|payload| JoinError::Panicked(panic_message(payload)))
}
