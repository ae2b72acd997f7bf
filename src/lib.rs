//! # event: async TCP servers and clients with almost no ceremony
//!
//! One event loop per thread over the operating system's multiplexer (epoll on Linux, kqueue on
//! macOS and the BSDs), tasks that need not be `Send`, and sockets whose reads and writes take a
//! timeout. The whole echo server:
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
//! - [`Socket::listen`] / [`Socket::listen_on`] / [`ListenOptions`] give a [`ServerSocket`];
//!   [`ServerSocket::accept`] and [`ServerSocket::connections`] give [`Socket`]s.
//! - [`Socket::read`] (at most `max_bytes`), [`Socket::read_into`] (no allocation),
//!   [`Socket::write`] (every byte, or an error saying how many went out), each with
//!   `.timeout(duration)`; [`Socket::connect`] checks `SO_ERROR`, so a refused connection fails
//!   at connect.
//! - [`sleep`], [`timeout`]: timers on the loop's timing wheel.
//! - [`SocketError`]: one error type; OS failures keep their errno.
//!
//! Where something needs a loop and none runs on this thread, you get an error
//! ([`SocketError::NoEventLoop`], [`JoinError::NoEventLoop`]), never a panic.
#![warn(missing_docs)]

mod event_loop;
mod executor;
mod net;
mod per_core;
mod reactor;
mod shutdown;
pub mod signal;
mod time;
mod trace;

pub use event_loop::{EventLoop, Stats, backend, run};
pub use executor::{JoinError, JoinHandle, LoopHandle, YieldNow, spawn, try_spawn, yield_now};
pub use net::{
    Accept, AtLimit, Connections, ListenOptions, Read, ReadBuf, ReadInto, ServerSocket, Socket,
    SocketAddress, SocketError, Target, Write,
};
pub use per_core::{LoopContext, PerCore};
pub use shutdown::{Shutdown, ShutdownReport, ShutdownTrigger};
pub use time::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout};
