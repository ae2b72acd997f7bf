//! An HTTP/1.1 server: hyper's connection code on this crate's loop and sockets (no tokio
//! runtime, no `Send` bounds).
//!
//! ```text
//! cargo run --release -p event-ecosystem --example http -- [--addr 127.0.0.1:8080]
//! ```
//! Then `curl http://127.0.0.1:8080/` (200 "Hello, world!"),
//! `curl --data-binary @FILE http://127.0.0.1:8080/echo` (the body back, at most 1 MiB) or any
//! other path (404). Connections are kept alive between requests.
//!
//! hyper reads and writes through its own `hyper::rt::Read`/`Write` traits; the small adapter
//! below implements them over the `futures-io` traits that `Socket` implements, so no crate
//! feature and no hyper-util are needed.

use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll, ready};

use event::{Socket, SocketAddress};
use futures_io::{AsyncRead, AsyncWrite};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::rt::ReadBufCursor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};

/// The largest request body `/echo` accepts.
const MAX_ECHO_BODY: usize = 1024 * 1024;

/// A `Socket` as hyper's I/O. hyper hands reads an uninitialised buffer that safe code can only
/// fill with `put_slice`, so reads go through a per-connection buffer (one copy).
struct HyperIo {
    socket: Socket,
    buf: Box<[u8]>,
}

impl HyperIo {
    fn new(socket: Socket) -> HyperIo {
        HyperIo {
            socket,
            buf: vec![0; 16 * 1024].into_boxed_slice(),
        }
    }
}

impl hyper::rt::Read for HyperIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = cursor.remaining().min(this.buf.len());
        // End of stream is Ok(0): hyper sees an empty read, as it expects.
        let n = ready!(Pin::new(&mut this.socket).poll_read(cx, &mut this.buf[..len]))?;
        cursor.put_slice(&this.buf[..n]);
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for HyperIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().socket).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_close(cx)
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => Ok(text(StatusCode::OK, "Hello, world!\n")),
        (&Method::POST, "/echo") => {
            match Limited::new(request.into_body(), MAX_ECHO_BODY)
                .collect()
                .await
            {
                Ok(body) => Ok(Response::new(Full::new(body.to_bytes()))),
                Err(e) if e.is::<LengthLimitError>() => {
                    Ok(text(StatusCode::PAYLOAD_TOO_LARGE, "body over 1 MiB\n"))
                }
                Err(e) => match e.downcast::<hyper::Error>() {
                    Ok(e) => Err(*e),
                    Err(e) => unreachable!("Limited<Incoming> fails with {e}"),
                },
            }
        }
        _ => Ok(text(StatusCode::NOT_FOUND, "Not Found\n")),
    }
}

async fn serve(addr: SocketAddress) -> Result<(), event::SocketError> {
    let server = Socket::listen_on(addr)?;
    println!(
        "http server listening on {} (backend: {})",
        server.local_address(),
        event::backend()
    );
    loop {
        let client = match server.accept().await {
            Ok(client) => client,
            Err(e) => {
                // Out of descriptors, say: the listener backs off by itself; keep serving.
                eprintln!("{e}");
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        // A detached task per connection; hyper's HTTP/1 connection needs no timer or executor.
        drop(event::spawn(async move {
            let connection =
                http1::Builder::new().serve_connection(HyperIo::new(client), service_fn(handle));
            if let Err(e) = connection.await
                && !e.is_incomplete_message()
            {
                eprintln!("http connection: {e}");
            }
        }));
    }
}

fn parse_args() -> Result<SocketAddress, String> {
    let mut addr = SocketAddress::localhost(8080);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => {
                let value = args.next().ok_or("--addr needs a value")?;
                addr = value.parse().map_err(|e| format!("--addr: {e}"))?;
            }
            "-h" | "--help" => return Err("usage: http [--addr IP:PORT]".into()),
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    Ok(addr)
}

fn main() -> ExitCode {
    event_ecosystem::run_example("http", parse_args, |addr| event::run(serve(addr)))
}
