//! Helpers for the HTTP tests: a server on the test's loop, blocking std clients on a thread.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use event::{ServerSocket, Shutdown, ShutdownReport, Socket, SocketAddress};
use event_hyper::{RequestBody, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
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
/// MS milliseconds, anything else 404.
pub async fn handler(request: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
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
    if let Some(ms) = path.strip_prefix("/sleep/") {
        event::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        return Ok(Response::new(Full::new(Bytes::from_static(b"slept\n"))));
    }
    Ok(status(StatusCode::NOT_FOUND))
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

/// Reads one response (with a `Content-Length` body, or to end of stream without one).
pub fn read_reply(stream: &mut TcpStream) -> Reply {
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
pub fn exchange(stream: &mut TcpStream, request: &[u8]) -> Reply {
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
