//! # event-hyper: hyper (and axum) on the `event` loop
//!
//! [hyper](https://hyper.rs)'s runtime traits for [`event`], and a server that is ready for the
//! open internet:
//! - [`HyperIo`]: hyper's `Read`/`Write` for an [`event::Socket`], reading straight into hyper's
//!   uninitialised buffer ([`event::Socket::poll_read_uninit`]);
//! - [`LoopTimer`]: hyper's `Timer` on the loop's timing wheel (its sleeps are `Send + Sync`, as
//!   hyper requires, without any `unsafe impl Send`);
//! - [`LocalExec`]: hyper's `Executor` spawning on the loop (HTTP/2 streams; nothing `Send`);
//! - [`Server`] / [`serve`]: HTTP/1.1 and HTTP/2 on a listener with header-read and idle
//!   timeouts, header and body limits (431, 413), half-close, HTTP/1 upgrades, and graceful
//!   shutdown through [`event::Shutdown`]; [`Server::serve_tower`] takes an axum `Router`;
//!   with the `tls` feature, `Server::tls` serves HTTPS (rustls, ALPN choosing h2 or
//!   http/1.1);
//! - [`Compat`]: futures-io I/O as hyper's and back (a TLS stream for hyper's client, an
//!   upgraded connection for futures-io code).
//!
//! ```
//! use std::convert::Infallible;
//! use event::{Socket, SocketAddress};
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//!
//! async fn hello(_: Request<event_hyper::RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, world!\n"))))
//! }
//!
//! event::run(async {
//!     let listener = Socket::listen_on(SocketAddress::localhost(0))?;
//!     # listener.close(); // (so that this example ends at once)
//!     event_hyper::serve(listener, hyper::service::service_fn(hello)).await;
//!     Ok::<(), event::SocketError>(())
//! })?;
//! # Ok::<(), event::SocketError>(())
//! ```
//!
//! hyper's upgrades want `Send` I/O and an event socket is not `Send`: the server keeps each
//! connection's socket in its loop thread's table and gives hyper a `Send` ticket to it, which
//! fails with an error on any other thread (see [`Server`]'s upgrade section).
//!
//! The only `unsafe` here is the two calls hyper's `ReadBufCursor` requires to be filled without
//! a copy (in `HyperIo`'s read), each with its `SAFETY` argument.
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod compat;
mod connection;
mod exec;
#[allow(unsafe_code)]
mod io;
mod server;
mod timer;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;

pub use compat::Compat;
pub use exec::LocalExec;
pub use io::HyperIo;
pub use server::{Protocols, RequestBody, ResponseBody, Server, serve};
pub use timer::{LoopSleep, LoopTimer};
