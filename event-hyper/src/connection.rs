//! One connection of a `Server`: the TLS handshake if any, then hyper's HTTP/1 (with upgrades
//! unless they are off) or HTTP/2 until it ends, with a graceful shutdown when the `Shutdown` triggers.

use std::error::Error as StdError;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
#[cfg(feature = "tls")]
use std::task::Poll;
use std::time::Duration;

use event::{Shutdown, Socket};
use hyper::body::{Body, Bytes, Incoming};
use hyper::server::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::server::conn::auto;

use crate::server::{Protocols, ResponseBody};
use crate::upgrade::{LocalIo, Register};
use crate::{HyperIo, LocalExec, LoopTimer};

type BoxError = Box<dyn StdError + Send + Sync>;

/// What every connection of a server is served with.
pub(crate) struct ConnConfig {
    /// HTTP/1 or HTTP/2 told apart by the first bytes.
    auto: auto::Builder<LocalExec>,
    http1: http1::Builder,
    http2: http2::Builder<LocalExec>,
    protocols: Protocols,
    /// HTTP/1 upgrades on: hyper gets a `Send` ticket to the I/O, else the I/O itself.
    pub(crate) upgrades: bool,
    /// The TLS handshake's, and the first byte's on plain connections (hyper's builders have
    /// their own copy, which starts at a request's first bytes).
    header_read_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<futures_rustls::TlsAcceptor>,
}

impl ConnConfig {
    /// hyper's builders with the server's timer, timeouts and limits.
    pub(crate) fn new(
        protocols: Protocols,
        header_read_timeout: Option<Duration>,
        max_header_bytes: usize,
    ) -> ConnConfig {
        let mut http1 = http1::Builder::new();
        http1
            .timer(LoopTimer)
            .header_read_timeout(header_read_timeout)
            .half_close(true)
            .max_buf_size(max_header_bytes.max(8192));
        let mut http2 = http2::Builder::new(LocalExec);
        http2
            .timer(LoopTimer)
            .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
        let mut auto = auto::Builder::new(LocalExec);
        auto.http1()
            .timer(LoopTimer)
            .header_read_timeout(header_read_timeout)
            .half_close(true)
            .max_buf_size(max_header_bytes.max(8192));
        auto.http2()
            .timer(LoopTimer)
            .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
        ConnConfig {
            auto,
            http1,
            http2,
            protocols,
            upgrades: true,
            header_read_timeout,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The connection's I/O and what to speak on it: the socket as it is, or after the TLS
    /// handshake (`None`: the handshake failed, ran out of time, or the shutdown began).
    async fn open(
        &self,
        client: Socket,
        shutdown: &Shutdown,
    ) -> Option<(Box<dyn LocalIo>, Protocols)> {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.tls {
            let handshake = crate::tls::handshake(acceptor, client, self.protocols);
            let limited = within(self.header_read_timeout, handshake);
            let mut limited = pin!(limited);
            let mut triggered = pin!(shutdown.triggered());
            // A connection still in its handshake is idle: the shutdown closes it at once.
            return poll_fn(|cx| match triggered.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => limited.as_mut().poll(cx).map(|r| r?.ok()),
            })
            .await;
        }
        let _ = shutdown;
        let io = match self.header_read_timeout {
            Some(limit) => HyperIo::with_first_byte_limit(client, limit),
            None => HyperIo::new(client),
        };
        Some((Box::new(io), self.protocols))
    }
}

/// `future`, given `limit` to finish (`None` if it did not).
#[cfg(feature = "tls")]
async fn within<F: Future>(limit: Option<Duration>, future: F) -> Option<F::Output> {
    match limit {
        Some(limit) => event::timeout(limit, future).await.ok(),
        None => Some(future.await),
    }
}

/// Drives a hyper connection to its end, with a graceful shutdown once `shutdown` triggers.
macro_rules! serve {
    ($conn:expr, $shutdown:expr) => {
        until_done($conn, $shutdown, |conn| conn.graceful_shutdown()).await
    };
}

/// One connection, from the handshake to the moment hyper and any upgraded connection are
/// done with its socket (or the shutdown's deadline cuts the task: dropping the registration
/// closes the socket under the upgraded connection too).
pub(crate) async fn connection<S, B>(
    config: Rc<ConnConfig>,
    shutdown: Shutdown,
    client: Socket,
    service: S,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<ResponseBody<B>>> + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    let Some((io, protocols)) = config.open(client, &shutdown).await else {
        return;
    };
    if !config.upgrades {
        return serve_plain(&config, io, protocols, service, &shutdown).await;
    }
    let register = Register::new(io);
    let ticket = register.ticket();
    // The connection's error (a reset, a timeout, a malformed request hyper answered) ends it;
    // the library prints nothing.
    match protocols {
        Protocols::Auto => {
            let conn = config.auto.serve_connection_with_upgrades(ticket, service);
            serve!(conn, &shutdown)
        }
        Protocols::Http1 => {
            let conn = config.http1.serve_connection(ticket, service);
            serve!(conn.with_upgrades(), &shutdown)
        }
        Protocols::Http2 => serve!(config.http2.serve_connection(ticket, service), &shutdown),
    }
    // An upgraded connection holds the ticket: the socket stays open (and the task tracked by
    // the shutdown) until it is dropped.
    register.released().await;
}

/// A connection without upgrades: hyper holds the I/O itself (no ticket, no table).
async fn serve_plain<S, B>(
    config: &ConnConfig,
    io: Box<dyn LocalIo>,
    protocols: Protocols,
    service: S,
    shutdown: &Shutdown,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<ResponseBody<B>>> + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    match protocols {
        Protocols::Auto => serve!(config.auto.serve_connection(io, service), shutdown),
        Protocols::Http1 => serve!(config.http1.serve_connection(io, service), shutdown),
        Protocols::Http2 => serve!(config.http2.serve_connection(io, service), shutdown),
    }
}

/// Drives hyper's connection `conn` to its end (and drops it), asking it to shut down
/// gracefully once `shutdown` triggers.
async fn until_done<C: Future>(conn: C, shutdown: &Shutdown, graceful: fn(Pin<&mut C>)) {
    let mut conn = pin!(conn);
    let mut triggered = pin!(shutdown.triggered());
    let mut shutting_down = false;
    poll_fn(|cx| {
        if !shutting_down && triggered.as_mut().poll(cx).is_ready() {
            shutting_down = true;
            graceful(conn.as_mut());
        }
        conn.as_mut().poll(cx).map(drop)
    })
    .await;
}
