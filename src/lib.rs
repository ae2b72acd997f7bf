//! # event: async TCP, UDP and Unix-domain servers and clients with almost no ceremony
//!
//! One event loop per thread, over io_uring where the Linux kernel allows it and otherwise the
//! operating system's readiness multiplexer (epoll on Linux, kqueue on macOS and the BSDs):
//! [`Backend`] chooses, or the `EVENT_BACKEND` environment variable. Tasks need not be `Send`,
//! and every socket read and write can take a timeout; the API is the same on every driver.
//! The whole echo server:
//!
//! ```no_run
//! use event::{Socket, SocketError};
//!
//! fn main() -> Result<(), SocketError> {
//!     event::run(async {
//!         let server = Socket::listen(8080)?;
//!         loop {
//!             let client = server.accept().await?;
//!             event::spawn(async move {
//!                 while let Ok(bytes) = client.read(4096).await {
//!                     if client.write(&bytes).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!     })
//! }
//! ```
//!
//! The smallest program: [`run`] drives a future on a loop for the current thread.
//!
//! ```
//! let n = event::run(async { event::spawn(async { 40 + 2 }).await.unwrap() });
//! assert_eq!(n, 42);
//! ```
//!
//! ## The pieces
//! - [`run`], [`EventLoop`]: the loop; [`spawn`] a task on it, [`JoinHandle`] to await or
//!   cancel it.
//! - [`Socket::listen`] (every interface) / [`Socket::listen_on`] (one address, in any form
//!   [`ToListenAddress`] takes, `"127.0.0.1:9000"` included) / [`ListenOptions`] give a [`ServerSocket`];
//!   [`ServerSocket::accept`] and [`ServerSocket::connections`] give [`Socket`]s.
//! - [`Socket::read`] (at most `max_bytes`), [`Socket::read_into`] (no allocation),
//!   [`Socket::write`] (every byte, or an error saying how many went out), each with
//!   `.timeout(duration)`; [`Socket::connect`] checks `SO_ERROR`, so a refused connection fails
//!   at connect.
//! - [`UdpSocket::bind`] (or [`UdpOptions`]): UDP, [`UdpSocket::recv_from`] into your buffer
//!   (a datagram larger than it is [`SocketError::Truncated`]), [`UdpSocket::send_to`],
//!   `connect` then `send`/`recv`, [`UdpSocket::datagrams`], multicast and broadcast;
//!   [`PerCore::bind_udp`] for one socket per loop.
//! - [`UnixSocket::listen`] (a path, or `"@name"` in Linux's abstract namespace; or
//!   [`UnixListenOptions`]) gives a [`UnixServerSocket`]; [`UnixSocket::connect`],
//!   [`UnixSocket::pair`]: Unix-domain stream sockets with the TCP socket's reads, writes,
//!   timeouts and limits, plus [`UnixSocket::peer_credentials`]. A stale socket file is
//!   [`SocketError::StaleSocketFile`] unless [`UnixListenOptions::replace_stale`] says to
//!   replace it; the listener removes its own file when it closes. [`UnixDatagram`] (or
//!   [`UnixDatagramOptions`]): Unix-domain datagrams with the UDP socket's operations.
//! - [`sleep`], [`timeout`]: timers on the loop's timing wheel.
//! - [`SocketError`]: one error type; OS failures keep their errno.
//!
//! - [`signal::signal_stream`], [`Shutdown`], [`ShutdownTrigger`]: graceful shutdown.
//! - [`PerCore`]: one loop per core, each with its own `SO_REUSEPORT` listener.
//!
//! Where a socket operation needs a loop and none runs on this thread, it fails with
//! [`SocketError::NoEventLoop`]. [`spawn`] (and [`Shutdown::spawn`]) there panics instead, at
//! the call, since a task that can never run would otherwise be lost without a word;
//! [`try_spawn`] returns [`JoinError::NoEventLoop`].
//!
//! ## Sockets and tasks stay on their loop
//! A [`Socket`], a [`ServerSocket`] and a task made with [`spawn`] belong to the loop of the
//! thread that made them: they are neither `Send` nor `Sync` (they share the loop's state through
//! an `Rc`, which is why the compiler's complaint names `Rc<Core>` when one is sent to another
//! thread), and nothing in them locks. A connection is served on the loop that accepted it. To
//! hand work to another loop, send it something that is `Send` (bytes, an address, a request)
//! through that loop's [`LoopHandle`] ([`EventLoop::handle`], or [`LoopContext::loops`] under
//! [`PerCore`], which runs one loop per core): [`LoopHandle::spawn`] takes a `Send` future, and
//! inside it [`spawn`] starts the loop-local part, which may hold sockets.
//!
//! ```
//! use event::{EventLoop, ShutdownTrigger, Socket, SocketError};
//!
//! // A second loop on a thread of its own, running what it is handed until told to stop.
//! let stop = ShutdownTrigger::new();
//! let (tx, rx) = std::sync::mpsc::channel();
//! let worker = std::thread::spawn({
//!     let stop = stop.clone();
//!     move || {
//!         let lp = EventLoop::new().unwrap();
//!         tx.send(lp.handle()).unwrap(); // a LoopHandle is Send + Sync
//!         lp.block_on(stop.fired());
//!     }
//! });
//! let other_loop = rx.recv().unwrap();
//!
//! event::run(async {
//!     let server = Socket::listen_on("127.0.0.1:0")?;
//!     let addr = server.local_address(); // Send: it can cross
//!     // The future handed over is Send; the task it starts there owns a Socket of that loop.
//!     let sent = other_loop.spawn(async move {
//!         event::spawn(async move {
//!             let client = Socket::connect(addr).await?;
//!             client.write(b"from the other loop").await
//!         })
//!         .await
//!         .unwrap()
//!     });
//!     let peer = server.accept().await?; // served here, on this loop
//!     let mut got = Vec::new();
//!     while got.len() < 19 {
//!         got.extend(peer.read(64).await?);
//!     }
//!     assert_eq!(got, b"from the other loop");
//!     sent.await.unwrap()
//! })?;
//! stop.fire();
//! worker.join().unwrap();
//! # Ok::<(), SocketError>(())
//! ```
//!
//! ## Channels and shared state
//! The library has no channels of its own: the well-kept runtime-independent ones work on this
//! loop as they are, because they only use the standard `Waker`, which the loop provides (and
//! which reaches the loop from any thread). Tested here (`ecosystem/tests/crates.rs`, module
//! `sync_crates`):
//! - [`tokio::sync`](https://docs.rs/tokio/latest/tokio/sync/) (`mpsc`, `oneshot`, `broadcast`,
//!   `Notify`, `Mutex`, ...) with tokio's `sync` feature alone: they need no tokio runtime;
//! - [`futures-channel`](https://docs.rs/futures-channel) (`mpsc`, `oneshot`);
//! - [`async-channel`](https://docs.rs/async-channel) (multi-producer, multi-consumer).
//!
//! Each works between two tasks of one loop, and from another thread (or another loop) into a
//! loop's task: a plain `std::thread` can `send` (or `blocking_send`), and the receiving task
//! is woken on its loop; a channel also carries work from one loop to another. Between tasks of
//! one loop, `Rc<RefCell<_>>` is enough for shared state (never hold the borrow across an
//! `.await`; tokio's `Mutex` can be held across one). The `chat` example in `ecosystem/examples/`
//! (`cargo run -p event-ecosystem --example chat`) gives each client a writer task fed by a
//! channel, and broadcasts every line to the others.
//!
//! ## Standard traits and features
//! `Socket` and `&Socket` implement `futures-io`'s `AsyncRead`/`AsyncWrite` (end of stream is
//! `Ok(0)` there, as the traits require), so futures-rustls, hyper (see `ecosystem/examples/http.rs`
//! in the repository: the `event-ecosystem` package, `cargo run -p event-ecosystem --example
//! http`) and friends work over it. Optional features (docs.rs documents them all and marks what needs one):
//! - `tokio-io`: tokio's `AsyncRead`/`AsyncWrite`, for tokio-util codecs and tokio-rustls;
//! - `tracing`: `tracing` events for accept, accept errors, close, signals and shutdown. The
//!   library never prints; without the feature the events compile to nothing.
//!
//! ## Coming from tokio
//! | tokio | event |
//! |---|---|
//! | `#[tokio::main(flavor = "current_thread")]` | `event::run(async { … })` |
//! | `Runtime::block_on`, `LocalSet` | [`EventLoop::block_on`]; every task is local, no `Send` bound |
//! | `tokio::spawn` / `spawn_local` | [`spawn`] (drop the handle to detach; [`JoinHandle::cancel`] to abort) |
//! | `Handle::spawn` from another thread | [`LoopHandle::spawn`] (`EventLoop::handle()`) |
//! | `TcpListener::bind` + `accept` | [`Socket::listen_on`] + [`ServerSocket::accept`] or [`ServerSocket::connections`] |
//! | `TcpStream::connect` | [`Socket::connect`] (names resolved off the loop), [`Socket::connect_timeout`] |
//! | `UnixListener::bind`, `UnixStream::connect`, `UnixStream::pair`, `peer_cred` | [`UnixSocket::listen`], [`UnixSocket::connect`], [`UnixSocket::pair`], [`UnixSocket::peer_credentials`] |
//! | `read` / `read_buf` / `write_all` | [`Socket::read_into`] / [`Socket::read_buf`] / [`Socket::write`] |
//! | `tokio::time::{sleep, timeout}` | [`sleep`], [`timeout`]; per operation: `.timeout(d)` on a read, write or accept |
//! | `tokio::signal::unix::signal` | [`signal::signal_stream`] |
//! | multi-thread runtime | [`PerCore`]: shared-nothing loops, no work stealing |
//! | "there is no reactor running" panic | sockets: an error value, [`SocketError::NoEventLoop`]; [`spawn`]: a panic too ([`try_spawn`] for an error) |
//!
//! ## Coming from swift-event
//! | Swift `Event` | event |
//! |---|---|
//! | `Socket.listen(port:)`, `listen(on:)` | [`Socket::listen`], [`Socket::listen_on`], [`ListenOptions`] |
//! | `for try await client in server.connections` | `while let Some(client) = connections.next().await` |
//! | `Task { … }` | [`spawn`] |
//! | `read(maxBytes:timeout:)` | `read(max_bytes).timeout(d)`: honours `max_bytes`, consumes nothing on timeout |
//! | `write(_:timeout:)` | `write(&bytes).timeout(d)`: every byte, or how many went out |
//! | `connect(to:port:timeout:)` | [`Socket::connect_timeout`]: `SO_ERROR` checked, IPv6 and names |
//! | `EventLoop.backendMethod` | [`backend`] |
//! | `EventLoop.signalStream` | [`signal::signal_stream`] (dropping it restores the default action) |
//! | `SocketError.connectionClosed` | [`SocketError::ConnectionClosed`] |
//! | your own `ConnectionLimiter` actor | [`ListenOptions::max_connections`] |
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod driver;
mod event_loop;
mod executor;
mod net;
mod per_core;

mod shutdown;
pub mod signal;
#[cfg(test)]
mod test_waker;
mod time;
mod trace;

pub use event_loop::{Backend, Builder, EventLoop, Stats, backend, on_loop, run};
pub use executor::{JoinError, JoinHandle, LoopHandle, YieldNow, spawn, try_spawn, yield_now};
pub use net::{
    Accept, AtLimit, Connections, DatagramSocket, Datagrams, ListenOptions, PeerCredentials, Read,
    ReadBuf, ReadInto, Recv, RecvFrom, SendDatagram, SendTo, ServerSocket, Socket, SocketAddress,
    SocketError, StreamSocket, Target, ToListenAddress, UdpOptions, UdpSocket, UnixAddress,
    UnixDatagram, UnixDatagramOptions, UnixListenOptions, UnixServerSocket, UnixSocket, Write,
    WriteOwned,
};
pub use per_core::{LoopContext, PerCore};
pub use shutdown::{Listening, Shutdown, ShutdownReport, ShutdownTrigger};
pub use time::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout};
