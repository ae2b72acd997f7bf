//! A request body over `max_body_bytes` gets `413 Payload Too Large`: at once for a declared
//! `Content-Length` (the service is not called), and through the limited body for a chunked one.

mod common;

use std::io::Write;

#[test]
fn a_declared_length_over_the_limit_gets_413_without_reading_it() {
    let (reply, _) = common::with_server(
        |server| server.max_body_bytes(1000),
        |addr| {
            let mut stream = common::connect(addr);
            stream
                .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
                .unwrap();
            common::read_reply(&mut stream)
        },
    );
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("connection"), Some("close"));
}

#[test]
fn a_body_at_the_limit_is_served() {
    let (reply, _) = common::with_server(
        |server| server.max_body_bytes(1000),
        |addr| {
            let mut stream = common::connect(addr);
            let mut request =
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".to_vec();
            request.extend_from_slice(&[b'y'; 1000]);
            common::exchange(&mut stream, &request)
        },
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 1000);
}

#[test]
fn a_chunked_body_growing_past_the_limit_fails_to_read() {
    let (reply, _) = common::with_server(
        |server| server.max_body_bytes(1000),
        |addr| {
            let mut stream = common::connect(addr);
            let chunk = "z".repeat(800);
            let request = format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                 320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
            );
            common::exchange(&mut stream, request.as_bytes())
        },
    );
    // The test handler answers a body it could not collect with 413.
    assert_eq!(reply.status, 413);
}
