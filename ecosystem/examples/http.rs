//! An HTTP server on `event_hyper::Server`: hyper on this crate's loop and sockets (no tokio
//! runtime, no `Send` bounds), HTTP/1.1 and HTTP/2, HTTPS with `--tls`.
//!
//! ```text
//! cargo run --release -p event-ecosystem --example http -- [--addr 127.0.0.1:8080]
//!     [--backend auto|epoll|io_uring] [--tls] [--cert-out PATH]
//! ```
//! Then `curl http://127.0.0.1:8080/` (200 "Hello, world!"), `curl http://127.0.0.1:8080/json`
//! (a small JSON object), `curl --data-binary @FILE http://127.0.0.1:8080/echo` (the body back,
//! at most 1 MiB) or any other path (404). With `--tls` the server makes a self-signed
//! certificate at start and speaks HTTPS (ALPN: h2, http/1.1): `curl -k https://127.0.0.1:8080/`
//! (`--cert-out` writes the certificate in PEM, for a client that should trust it). Ctrl-C (or
//! SIGTERM) drains the open connections and exits.

mod common;

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use event::{Backend, EventLoop, Shutdown, Socket, SocketAddress};
use event_hyper::{RequestBody, Server};
use http_body_util::{BodyExt, Full, LengthLimitError};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

/// The largest request body `/echo` accepts.
const MAX_ECHO_BODY: usize = 1024 * 1024;

struct Config {
    addr: SocketAddress,
    backend: Option<Backend>,
    tls: bool,
    cert_out: Option<PathBuf>,
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn handle(request: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => text(StatusCode::OK, "Hello, world!\n"),
        (&Method::GET, "/json") => {
            let mut response = text(StatusCode::OK, "{\"message\":\"Hello, world!\"}\n");
            let json = HeaderValue::from_static("application/json");
            response.headers_mut().insert(CONTENT_TYPE, json);
            response
        }
        // The server answers a declared length over the limit with 413 itself; a chunked body
        // that grows past it fails to read.
        (&Method::POST, "/echo") => match request.into_body().collect().await {
            Ok(body) => Response::new(Full::new(body.to_bytes())),
            Err(e) if e.is::<LengthLimitError>() => {
                text(StatusCode::PAYLOAD_TOO_LARGE, "body over 1 MiB\n")
            }
            Err(_) => text(StatusCode::BAD_REQUEST, "unreadable body\n"),
        },
        _ => text(StatusCode::NOT_FOUND, "Not Found\n"),
    })
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    // The certificate first: it is written (--cert-out) before the banner says we listen.
    let tls = if config.tls {
        Some(common::self_signed_config(config.cert_out.as_deref())?)
    } else {
        None
    };
    let listener = Socket::listen_on(config.addr)?;
    let addr = listener.local_address();
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "{scheme} server listening on {addr} (backend: {})",
        event::backend()
    );
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals(&[event::signal::SIGINT, event::signal::SIGTERM])?;
    let mut server = Server::new(listener)
        .shutdown(&shutdown)
        .max_body_bytes(MAX_ECHO_BODY)
        .drain_timeout(Duration::from_secs(10));
    if let Some(tls) = tls {
        server = server.tls(Arc::new(tls));
        println!("self-signed certificate: try curl -k https://{addr}/");
    }
    let report = server.serve(hyper::service::service_fn(handle)).await;
    println!("{report}");
    Ok(())
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8080),
        backend: None,
        tls: false,
        cert_out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => config.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--backend" => {
                config.backend = Some(value()?.parse().map_err(|e| format!("--backend: {e}"))?);
            }
            "--tls" => config.tls = true,
            "--cert-out" => config.cert_out = Some(value()?.into()),
            "-h" | "--help" => {
                return Err(
                    "usage: http [--addr IP:PORT] [--backend auto|epoll|io_uring] \
                            [--tls] [--cert-out PATH]"
                        .into(),
                );
            }
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    if config.cert_out.is_some() && !config.tls {
        return Err("--cert-out needs --tls".into());
    }
    Ok(config)
}

fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = EventLoop::builder();
    if let Some(backend) = config.backend {
        builder = builder.backend(backend);
    }
    builder.build()?.block_on(serve(config))
}

fn main() -> ExitCode {
    event_ecosystem::run_example("http", parse_args, run)
}
