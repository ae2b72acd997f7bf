//! Runs the hyper example (`examples/http.rs`, on `event_hyper::Server`) as a child process and
//! speaks raw HTTP/1.1 to it over a std `TcpStream`, and over rustls with `--tls`.
#[path = "../../tests/common/mod.rs"]
mod common;

mod tls_client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::ExampleProcess;

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(server: &ExampleProcess) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream)
}

/// Sends `head` (request line and headers, without the blank line) and `body`, and reads one
/// response, whose length must come from Content-Length.
fn exchange(conn: &mut BufReader<impl Read + Write>, head: &str, body: &[u8]) -> Response {
    let mut request = format!("{head}\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    conn.get_mut().write_all(&request).unwrap();
    conn.get_mut().flush().unwrap();

    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
    let status = parts.next().unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').unwrap_or_else(|| panic!("header {l:?}"));
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = response
        .header("content-length")
        .expect("a Content-Length header")
        .parse()
        .unwrap();
    response.body = vec![0; len];
    conn.read_exact(&mut response.body).unwrap();
    response
}

#[test]
fn http_example_prints_its_address() {
    let server = ExampleProcess::example("http", &[]);
    assert!(server.addr.ip().is_loopback());
    assert_ne!(server.addr.port(), 0);
    assert!(server.banner.contains("listening on"), "{}", server.banner);
}

#[test]
fn keep_alive_serves_two_gets_on_one_connection() {
    let server = ExampleProcess::example("http", &[]);
    let mut conn = connect(&server);
    for _ in 0..2 {
        let r = exchange(&mut conn, "GET / HTTP/1.1\r\nHost: localhost", b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("14"));
        assert_eq!(r.body, b"Hello, world!\n");
        assert_ne!(r.header("connection"), Some("close"));
    }
}

#[test]
fn post_echo_returns_the_body() {
    let server = ExampleProcess::example("http", &[]);
    let mut conn = connect(&server);
    let body = common::pattern(100_000, 8);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\
         Content-Type: application/octet-stream",
        body.len()
    );
    let r = exchange(&mut conn, &head, &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("100000"));
    assert!(r.body == body, "echoed body differs");

    // Same connection: an empty POST echoes an empty body.
    let r = exchange(
        &mut conn,
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0",
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("0"));
}

#[test]
fn unknown_routes_are_404_and_connection_close_is_honoured() {
    let server = ExampleProcess::example("http", &[]);
    let mut conn = connect(&server);
    let r = exchange(&mut conn, "GET /nope HTTP/1.1\r\nHost: localhost", b"");
    assert_eq!(r.status, 404);
    // The route is method-specific: GET /echo is not the echo.
    let r = exchange(
        &mut conn,
        "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close",
        b"",
    );
    assert_eq!(r.status, 404);
    // After `Connection: close` the server closes: end of stream, not a timeout.
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn json_route_answers_json() {
    let server = ExampleProcess::example("http", &[]);
    let mut conn = connect(&server);
    let r = exchange(&mut conn, "GET /json HTTP/1.1\r\nHost: localhost", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, b"{\"message\":\"Hello, world!\"}\n");
}

#[test]
fn backend_flag_picks_the_driver() {
    let server = ExampleProcess::example("http", &["--backend", "epoll"]);
    assert!(
        server.banner.contains("(backend: epoll)"),
        "{}",
        server.banner
    );
}

#[test]
fn tls_flag_serves_https_with_alpn() {
    let dir = tls_client::TempDir::new();
    let cert = dir.0.join("cert.pem");
    let flags = ["--tls", "--cert-out", cert.to_str().unwrap()];
    let server = ExampleProcess::example("http", &flags);
    assert!(
        server.banner.starts_with("https server"),
        "{}",
        server.banner
    );

    // A client offering both protocols gets h2 (the handshake is all it does here).
    let both = tls_client::client_config(&cert, &[b"h2", b"http/1.1"]);
    let mut h2 = tls_client::connect(server.addr, &both, "localhost");
    while h2.conn.is_handshaking() {
        h2.conn.complete_io(&mut h2.sock).unwrap();
    }
    assert_eq!(h2.conn.alpn_protocol(), Some(&b"h2"[..]));

    let http1 = tls_client::client_config(&cert, &[b"http/1.1"]);
    let mut conn = BufReader::new(tls_client::connect(server.addr, &http1, "127.0.0.1"));
    let r = exchange(&mut conn, "GET / HTTP/1.1\r\nHost: localhost", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, world!\n");
    assert_eq!(conn.get_ref().conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    let body = common::pattern(50_000, 3);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}",
        body.len()
    );
    let r = exchange(&mut conn, &head, &body);
    assert_eq!(r.status, 200);
    assert!(r.body == body, "echoed body differs");
    let r = exchange(&mut conn, "GET /json HTTP/1.1\r\nHost: localhost", b"");
    assert_eq!(r.header("content-type"), Some("application/json"));
}
