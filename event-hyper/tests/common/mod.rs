//! Helpers for the HTTP tests: a server on the test's loop, blocking std clients on a thread.
#![allow(dead_code)]

#[cfg(feature = "tls")]
pub mod tls;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use event::{ServerSocket, Shutdown, ShutdownReport, Socket, SocketAddress};
use event_hyper::{RequestBody, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONNECTION, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};

/// Runs `future` on a fresh loop, failing the test instead of hanging after 60 s.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    event::run(async {
        event::timeout(Duration::from_secs(60), future)
            .await
            .expect("test did not finish within 60 s")
    })
}

/// A listener on 127.0.0.1 with an ephemeral port.
pub fn listen_local() -> ServerSocket {
    Socket::listen_on(SocketAddress::localhost(0)).expect("listen on 127.0.0.1:0")
}

/// The address as std's.
pub fn std_addr(listener: &ServerSocket) -> SocketAddr {
    listener.local_address().to_string().parse().unwrap()
}

/// The test service: `GET /` hello, `POST /echo` the body back, `GET /sleep/MS` answers after
/// MS milliseconds, `GET /upgrade` with `Upgrade: echo` switches to a raw echo of every byte
/// ([`echo_upgraded`]), `GET /big/N` N bytes of [`pattern`], anything else 404.
pub async fn handler(request: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    if path == "/upgrade" {
        return Ok(upgrade(request, |upgraded| {
            event::spawn(echo_upgraded(upgraded))
        }));
    }
    if path == "/" {
        return Ok(Response::new(Full::new(Bytes::from_static(
            b"Hello, world!\n",
        ))));
    }
    if path == "/echo" {
        return Ok(match request.into_body().collect().await {
            Ok(body) => Response::new(Full::new(body.to_bytes())),
            Err(_) => status(StatusCode::PAYLOAD_TOO_LARGE),
        });
    }
    if let Some(len) = path.strip_prefix("/big/") {
        let body = pattern(len.parse().unwrap(), 7);
        return Ok(Response::new(Full::new(Bytes::from(body))));
    }
    if let Some(ms) = path.strip_prefix("/sleep/") {
        event::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        return Ok(Response::new(Full::new(Bytes::from_static(b"slept\n"))));
    }
    Ok(status(StatusCode::NOT_FOUND))
}

/// Answers an `Upgrade: echo` request with 101 and hands the upgraded connection to `then`
/// (on a task of its own: the upgrade completes once the 101 is sent).
pub fn upgrade<T: 'static>(
    mut request: Request<RequestBody>,
    then: impl FnOnce(hyper::upgrade::Upgraded) -> T + 'static,
) -> Response<Full<Bytes>> {
    if request.headers().get(UPGRADE).map(|v| v.as_bytes()) != Some(b"echo") {
        return status(StatusCode::BAD_REQUEST);
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    drop(event::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            then(upgraded);
        }
    }));
    let mut response = status(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("echo"));
    response
}

/// Echoes raw bytes on an upgraded connection until the client's end of stream.
pub async fn echo_upgraded(upgraded: hyper::upgrade::Upgraded) {
    use futures_util::io::{AsyncReadExt, AsyncWriteExt};
    let mut io = event_hyper::Compat::new(upgraded);
    let mut buf = vec![0; 8192];
    loop {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // The flush matters over TLS: rustls may keep records until it is asked to.
                if io.write_all(&buf[..n]).await.is_err() || io.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = io.close().await;
}

/// `len` bytes of a pattern that does not repeat with a short period (`seed` tells streams
/// apart).
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(u32::from(seed) % 31) as u8
        })
        .collect()
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// Serves [`handler`] with `configure`d settings while `client` runs on a std thread with the
/// server's address; then shuts down (after `client` returns) and returns the client's result
/// and the drain's report.
pub fn with_server<T: Send + 'static>(
    configure: impl FnOnce(Server) -> Server,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> (T, ShutdownReport) {
    run(async move {
        let listener = listen_local();
        let addr = std_addr(&listener);
        let shutdown = Shutdown::new();
        let server = configure(Server::new(listener).shutdown(&shutdown));
        let server = event::spawn(server.serve(hyper::service::service_fn(handler)));
        let result = on_thread(move || client(addr)).await;
        shutdown.trigger();
        (result, server.await.unwrap())
    })
}

/// Runs blocking `f` on a std thread, awaiting it without blocking the loop.
pub async fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = thread::spawn(f);
    while !thread.is_finished() {
        event::sleep(Duration::from_millis(2)).await;
    }
    match thread.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A blocking client connection with a 10 s read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (with a `Content-Length` body, none for 101, or to end of stream without
/// one).
pub fn read_reply(stream: &mut impl Read) -> Reply {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read response head");
        assert!(
            n > 0,
            "end of stream in a response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    if reply.status == 101 {
        return reply;
    }
    match reply
        .header("content-length")
        .map(|v| v.parse::<usize>().unwrap())
    {
        Some(len) => {
            reply.body = vec![0; len];
            stream.read_exact(&mut reply.body).unwrap();
        }
        None => {
            stream.read_to_end(&mut reply.body).unwrap();
        }
    }
    reply
}

/// Sends `request` on `stream` and reads the reply.
pub fn exchange(stream: &mut (impl Read + Write), request: &[u8]) -> Reply {
    stream.write_all(request).unwrap();
    read_reply(stream)
}

/// Whether the server has closed `stream` (end of stream or a reset within its read timeout).
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

/// Whether the server ends `stream` (end of stream or a reset) within its read timeout,
/// whatever bytes come first (a TLS alert, say).
pub fn ends(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}
