//! # event: async TCP and UDP servers and clients with almost no ceremony
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
//! ## Standard traits and features
//! `Socket` and `&Socket` implement `futures-io`'s `AsyncRead`/`AsyncWrite` (end of stream is
//! `Ok(0)` there, as the traits require), so futures-rustls, hyper (see `examples/http.rs`) and
//! friends work over it. Optional features:
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

mod driver;
mod event_loop;
mod executor;
mod net;
mod per_core;

mod shutdown;
pub mod signal;
mod time;
mod trace;

pub use event_loop::{Backend, Builder, EventLoop, Stats, backend, run};
pub use executor::{JoinError, JoinHandle, LoopHandle, YieldNow, spawn, try_spawn, yield_now};
pub use net::{
    Accept, AtLimit, Connections, Datagrams, ListenOptions, Read, ReadBuf, ReadInto, Recv,
    RecvFrom, SendDatagram, SendTo, ServerSocket, Socket, SocketAddress, SocketError, Target,
    ToListenAddress, UdpOptions, UdpSocket, Write, WriteOwned,
};
pub use per_core::{LoopContext, PerCore};
pub use shutdown::{Shutdown, ShutdownReport, ShutdownTrigger};
pub use time::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout};
