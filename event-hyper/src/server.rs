//! `Server`: HTTP/1.1 and HTTP/2 on an event listener, with timeouts, limits and graceful
//! shutdown.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use event::{ServerSocket, Shutdown, ShutdownReport};
use http_body_util::{Either, Full, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::service::TowerToHyperService;

use crate::connection::{ConnConfig, connection};

/// The body of a request as a service served by [`Server`] sees it: hyper's body with the
/// server's [`max_body_bytes`](Server::max_body_bytes) limit (reading past it fails with
/// [`http_body_util::LengthLimitError`]; axum's extractors answer that with 413).
pub type RequestBody = Limited<Incoming>;

/// The body of the responses [`Server`] sends: the service's, or the server's own (413).
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Which protocols a [`Server`] speaks (over TLS: what its ALPN offers, `Server::tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/1.1, and HTTP/2 with prior knowledge, told apart by the connection's first bytes
    /// (over TLS: ALPN offers `h2` and `http/1.1`).
    Auto,
    /// HTTP/1.1 (and 1.0) only, with upgrades.
    Http1,
    /// HTTP/2 with prior knowledge only (over TLS: `h2`).
    Http2,
}

/// An HTTP server on an event [`ServerSocket`]: HTTP/1.1 and HTTP/2 (prior knowledge) through
/// hyper, one task per connection on the current loop, nothing `Send`.
///
/// On by default (each configurable):
/// - a header-read timeout of 10 s ([`header_read_timeout`](Server::header_read_timeout)): a
///   client that has not sent a whole request head by then is cut, and so is one that has sent
///   no byte at all since it connected. hyper counts the wait for
///   the next request on a kept-alive HTTP/1 connection too, so an idle keep-alive connection is
///   closed after it;
/// - an idle timeout of 60 s ([`idle_timeout`](Server::idle_timeout)): the socket's read and
///   write timeout, so any single wait for the peer (a body that stops arriving, a client that
///   stops reading, a silent HTTP/2 connection) longer than that ends the connection. Sockets that already have a timeout (from
///   [`ListenOptions::idle_timeout`](event::ListenOptions::idle_timeout)) keep theirs;
/// - at most 64 KiB of request head ([`max_header_bytes`](Server::max_header_bytes)): more is
///   answered `431 Request Header Fields Too Large`; a malformed request gets `400 Bad Request`
///   (both by hyper);
/// - at most 2 MiB of request body ([`max_body_bytes`](Server::max_body_bytes)): a request whose
///   `Content-Length` says more gets `413 Payload Too Large` without the service being called;
///   a chunked body that grows past it fails to read ([`RequestBody`]);
/// - HTTP/1 half-close: a client that shuts its write side after its request still gets the
///   response;
/// - graceful shutdown through [`Shutdown`]: when it triggers, the listener closes, idle
///   keep-alive connections close at once, in-flight requests finish (HTTP/1 then closes,
///   HTTP/2 sends GOAWAY), and whatever is still running at the drain deadline (30 s,
///   [`drain_timeout`](Server::drain_timeout)) is cut.
///
/// HTTPS (with ALPN choosing HTTP/2 or HTTP/1.1) is `Server::tls`, with the `tls`
/// feature.
///
/// HTTP/1 upgrades (`Connection: upgrade`, a WebSocket, say) work as in hyper: the service
/// takes `hyper::upgrade::on(&mut request)`, answers `101 Switching Protocols`, and the future
/// gives the [`Upgraded`](hyper::upgrade::Upgraded) connection ([`Compat`](crate::Compat) makes
/// it futures-io). hyper requires it to be `Send`; it is, but as a ticket to a socket that stays
/// on its loop's thread: used on another thread it fails (`io::ErrorKind::Unsupported`), and
/// dropped there it still closes the connection. An upgraded connection counts as in flight:
/// the shutdown's drain waits for it and, at the deadline, closes its socket (the task holding
/// the `Upgraded` then gets `ConnectionAborted`). Over TLS, flush after writing to it: rustls
/// may keep the records until asked to.
///
/// A connection limit is the listener's: [`ListenOptions::max_connections`](event::ListenOptions::max_connections).
/// On several cores, run one `Server` per loop of a [`PerCore`](event::PerCore).
///
/// ```
/// use std::convert::Infallible;
/// use event::{Shutdown, Socket, SocketAddress};
/// use event_hyper::{RequestBody, Server};
/// use http_body_util::Full;
/// use hyper::body::Bytes;
/// use hyper::{Request, Response};
///
/// async fn hello(_: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
///     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, world!\n"))))
/// }
///
/// event::run(async {
///     let listener = Socket::listen_on(SocketAddress::localhost(0))?;
///     let shutdown = Shutdown::new();
///     shutdown.trigger_on_signals(&[event::signal::SIGINT, event::signal::SIGTERM])?;
///     # shutdown.trigger(); // (so that this example ends at once)
///     let report = Server::new(listener)
///         .shutdown(&shutdown)
///         .serve(hyper::service::service_fn(hello))
///         .await;
///     println!("{report}");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    listener: ServerSocket,
    shutdown: Shutdown,
    protocols: Protocols,
    header_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_header_bytes: usize,
    max_body_bytes: usize,
    drain_timeout: Duration,
    upgrades: bool,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_address())
            .field("protocols", &self.protocols)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("drain_timeout", &self.drain_timeout)
            .field("upgrades", &self.upgrades)
            .field("tls", &self.is_tls())
            .finish()
    }
}

/// Serves `service` (a hyper service) on `listener` with [`Server`]'s defaults, until the
/// listener is closed; then drains. `Server::new(listener).serve(service)`.
pub async fn serve<S, B>(listener: ServerSocket, service: S) -> ShutdownReport
where
    S: hyper::service::Service<Request<RequestBody>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    Server::new(listener).serve(service).await
}

impl Server {
    /// A server on `listener`, with the defaults above and a [`Shutdown`] of its own (it begins
    /// when the listener is closed).
    pub fn new(listener: ServerSocket) -> Server {
        Server {
            listener,
            shutdown: Shutdown::new(),
            protocols: Protocols::Auto,
            header_read_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(60)),
            max_header_bytes: 64 * 1024,
            max_body_bytes: 2 * 1024 * 1024,
            drain_timeout: Duration::from_secs(30),
            upgrades: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Shuts down with `shutdown`: when it triggers (a signal, a [`ShutdownTrigger`](event::ShutdownTrigger),
    /// [`Shutdown::trigger`]) the server stops accepting and drains. The connection tasks are
    /// tracked by it.
    pub fn shutdown(mut self, shutdown: &Shutdown) -> Server {
        self.shutdown = shutdown.clone();
        self
    }

    /// Whether HTTP/1 connections can be upgraded (`hyper::upgrade::on`: WebSockets, say);
    /// default on. hyper hands an upgraded connection to code that must be `Send`, so with
    /// upgrades on every connection's socket sits in its thread's table and hyper holds a
    /// `Send` ticket to it (a lookup per read and write, about 4% of a small request's
    /// user-space instructions); off, hyper holds the socket itself and an upgrade request is
    /// refused as hyper refuses it.
    pub fn upgrades(mut self, on: bool) -> Server {
        self.upgrades = on;
        self
    }

    /// Which protocols to speak (default [`Protocols::Auto`]).
    pub fn protocols(mut self, protocols: Protocols) -> Server {
        self.protocols = protocols;
        self
    }

    /// How long a client may take to send a request head (HTTP/1; default 10 s, `None`: no
    /// limit). Also how long a kept-alive connection may wait for its next request.
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Server {
        self.header_read_timeout = timeout;
        self
    }

    /// The longest single wait for the peer, reading or writing (default 60 s, `None`: none but
    /// the listener's). Applied to sockets that have no read or write timeout of their own.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Server {
        self.idle_timeout = timeout;
        self
    }

    /// The largest request head accepted, in bytes (default 64 KiB; at least 8 KiB for HTTP/1,
    /// hyper's smallest read buffer). Larger ones get 431.
    pub fn max_header_bytes(mut self, max: usize) -> Server {
        self.max_header_bytes = max;
        self
    }

    /// The largest request body accepted, in bytes (default 2 MiB). A declared `Content-Length`
    /// over it gets 413 at once; a chunked body fails to read past it.
    pub fn max_body_bytes(mut self, max: usize) -> Server {
        self.max_body_bytes = max;
        self
    }

    /// How long in-flight requests get to finish once the shutdown begins (default 30 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Server {
        self.drain_timeout = timeout;
        self
    }

    /// Serves HTTPS: every connection begins with a TLS handshake (rustls) under `config`.
    /// Needs the `tls` feature.
    ///
    /// ALPN: when `config.alpn_protocols` is empty, the server sets it to what its
    /// [`Protocols`] speak (`h2` and `http/1.1` for [`Protocols::Auto`]); a list the config
    /// already has is kept as it is. After the handshake the connection speaks HTTP/2 where
    /// ALPN chose `h2`, HTTP/1.1 where it chose `http/1.1`, and what [`Protocols`] says where
    /// the client offered nothing (with `Auto`, told apart by the first bytes).
    ///
    /// The handshake has the [`header_read_timeout`](Server::header_read_timeout) to finish (a
    /// client that connects and sends nothing, or stalls halfway, is cut then), and a
    /// connection still in its handshake when the shutdown begins is closed at once. A client
    /// that speaks plain HTTP to the port fails the handshake and is closed. Limits, timeouts,
    /// upgrades and the graceful shutdown are those of plain HTTP.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use event::Socket;
    /// use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    /// # use std::convert::Infallible;
    /// # use http_body_util::Full;
    /// # use hyper::body::Bytes;
    /// # async fn hello(_: hyper::Request<event_hyper::RequestBody>)
    /// #     -> Result<hyper::Response<Full<Bytes>>, Infallible> { unimplemented!() }
    /// # fn certificate() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) { unimplemented!() }
    ///
    /// event::run(async {
    ///     let (chain, key) = certificate(); // from PEM files, or rcgen
    ///     // Name the provider: `ServerConfig::builder()` panics if two are compiled in.
    ///     let provider = Arc::new(rustls::crypto::ring::default_provider());
    ///     let config = rustls::ServerConfig::builder_with_provider(provider)
    ///         .with_safe_default_protocol_versions()?
    ///         .with_no_client_auth()
    ///         .with_single_cert(chain, key)?;
    ///     let listener = Socket::listen_on("0.0.0.0:8443")?;
    ///     event_hyper::Server::new(listener)
    ///         .tls(Arc::new(config)) // ALPN: h2, http/1.1
    ///         .serve(hyper::service::service_fn(hello))
    ///         .await;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: std::sync::Arc<rustls::ServerConfig>) -> Server {
        self.tls = Some(config);
        self
    }

    /// The [`Shutdown`] the server drains with (its own, unless [`shutdown`](Server::shutdown)
    /// gave one): trigger it to stop the server.
    pub fn shutdown_handle(&self) -> &Shutdown {
        &self.shutdown
    }

    fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    fn conn_config(&self) -> ConnConfig {
        #[allow(unused_mut)]
        let mut config = ConnConfig::new(
            self.protocols,
            self.header_read_timeout,
            self.max_header_bytes,
        );
        config.upgrades = self.upgrades;
        #[cfg(feature = "tls")]
        {
            config.tls = self
                .tls
                .clone()
                .map(|tls| crate::tls::acceptor(tls, self.protocols));
        }
        config
    }

    /// Serves a hyper service (`hyper::service::service_fn(handler)`, say) until the listener
    /// closes or the shutdown triggers, then drains the open connections and reports how that
    /// went. The service is cloned for every connection; it need not be `Send`.
    ///
    /// # Panics
    ///
    /// Where no event loop runs on this thread.
    pub async fn serve<S, B>(self, service: S) -> ShutdownReport
    where
        S: hyper::service::Service<Request<RequestBody>, Response = Response<B>> + Clone + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes> + 'static,
        B::Error: Into<BoxError>,
    {
        let config = Rc::new(self.conn_config());
        let shutdown = self.shutdown.clone();
        shutdown.close_on_trigger(&self.listener);
        let mut connections = self.listener.connections();
        // A listener made with `ListenOptions::nodelay` sets it itself (on io_uring without a
        // system call per connection).
        let nodelay_set = self.listener.nodelay();
        while let Some(client) = connections.next().await {
            // Per-connection failures are skipped by the listener; what reaches here (running
            // out of descriptors) it backs off from by itself.
            let Ok(client) = client else { continue };
            if client.read_timeout().is_none() {
                client.set_read_timeout(self.idle_timeout);
            }
            if client.write_timeout().is_none() {
                client.set_write_timeout(self.idle_timeout);
            }
            if !nodelay_set {
                let _ = client.set_nodelay(true);
            }
            let service = BodyLimit {
                inner: service.clone(),
                max: self.max_body_bytes,
            };
            shutdown.spawn(connection(
                config.clone(),
                shutdown.clone(),
                client,
                service,
            ));
        }
        shutdown.drain(self.drain_timeout).await
    }

    /// Serves a tower service, an axum `Router` for one (`Router<()>` is a
    /// `tower::Service<Request<RequestBody>>`), as [`serve`](Server::serve) does.
    ///
    /// ```no_run
    /// # // (axum is a dev-dependency: see examples/axum.rs for the running version)
    /// # use event::Socket;
    /// # async fn f<R>(router: R) -> Result<(), event::SocketError>
    /// # where R: tower_service::Service<hyper::Request<event_hyper::RequestBody>,
    /// #   Response = hyper::Response<http_body_util::Full<hyper::body::Bytes>>,
    /// #   Error = std::convert::Infallible> + Clone + 'static, R::Future: 'static {
    /// let listener = Socket::listen_on("127.0.0.1:8080")?;
    /// event_hyper::Server::new(listener).serve_tower(router).await;
    /// # Ok(()) }
    /// ```
    pub async fn serve_tower<S, B>(self, service: S) -> ShutdownReport
    where
        S: tower_service::Service<Request<RequestBody>, Response = Response<B>> + Clone + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes> + 'static,
        B::Error: Into<BoxError>,
    {
        self.serve(TowerToHyperService::new(service)).await
    }
}

/// The service with the body limit: 413 for a declared length over it, the body wrapped in
/// [`Limited`] otherwise.
#[derive(Clone)]
struct BodyLimit<S> {
    inner: S,
    max: usize,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for BodyLimit<S>
where
    S: hyper::service::Service<Request<RequestBody>, Response = Response<B>>,
{
    type Response = Response<ResponseBody<B>>;
    type Error = S::Error;
    type Future = LimitFuture<S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        // hyper parsed `Content-Length` already (the body's exact size; 0 when unknown, as
        // for chunked bodies, which `Limited` bounds as they arrive).
        if request.body().size_hint().lower() > self.max as u64 {
            let mut response = Response::new(Full::new(Bytes::from_static(
                b"request body over the server's limit\n",
            )));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            // The body is not read: an HTTP/1 connection cannot be reused (hyper drops the
            // header on HTTP/2, where only this stream ends).
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return LimitFuture::TooLarge {
                response: Some(response),
            };
        }
        let max = self.max;
        LimitFuture::Inner {
            future: self.inner.call(request.map(|body| Limited::new(body, max))),
        }
    }
}

pin_project_lite::pin_project! {
    #[project = LimitProj]
    enum LimitFuture<F> {
        Inner { #[pin] future: F },
        TooLarge { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F, B, E> Future for LimitFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            LimitProj::Inner { future } => future
                .poll(cx)
                .map_ok(|response| response.map(Either::Left)),
            LimitProj::TooLarge { response } => Poll::Ready(Ok(response
                .take()
                .expect("LimitFuture polled after completion")
                .map(Either::Right))),
        }
    }
}
