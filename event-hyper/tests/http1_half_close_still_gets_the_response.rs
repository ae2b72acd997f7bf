//! A client that shuts its write side right after its request still gets the response.

mod common;

use std::io::Write;
use std::net::Shutdown;

#[test]
fn request_then_shutdown_write_gets_the_response() {
    let (reply, _) = common::with_server(
        |server| server,
        |addr| {
            let mut stream = common::connect(addr);
            stream
                .write_all(b"GET /sleep/50 HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            common::read_reply(&mut stream)
        },
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"slept\n");
}
