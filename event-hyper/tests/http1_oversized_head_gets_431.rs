//! A request head over `max_header_bytes` is answered `431 Request Header Fields Too Large`.

mod common;

use std::io::Write;

#[test]
fn a_100_kib_header_gets_431_at_the_64_kib_default() {
    let (status, _) = common::with_server(
        |server| server,
        |addr| {
            let mut stream = common::connect(addr);
            let big = "a".repeat(100 * 1024);
            let request = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n");
            // The server may answer and close before taking everything: ignore a failed write.
            let _ = stream.write_all(request.as_bytes());
            common::read_reply(&mut stream).status
        },
    );
    assert_eq!(status, 431);
}

#[test]
fn a_head_under_the_limit_is_served() {
    let (status, _) = common::with_server(
        |server| server.max_header_bytes(128 * 1024),
        |addr| {
            let mut stream = common::connect(addr);
            let big = "a".repeat(100 * 1024);
            let request = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n");
            common::exchange(&mut stream, request.as_bytes()).status
        },
    );
    assert_eq!(status, 200);
}
