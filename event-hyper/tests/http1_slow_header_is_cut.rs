//! A client that never finishes its request head is cut at the header-read timeout (300 ms
//! here; generous bounds: this is a behaviour test, not a measurement).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn an_unfinished_head_is_cut_at_the_header_read_timeout() {
    let (elapsed, _) = common::with_server(
        |server| server.header_read_timeout(Some(Duration::from_millis(300))),
        |addr| {
            let mut stream = common::connect(addr);
            let start = Instant::now();
            // More than HTTP/2's 24-byte preface, so the connection is known to be HTTP/1.
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: slow.example\r\nX-Slow: ")
                .unwrap();
            assert!(common::is_closed(&mut stream), "the server must close");
            start.elapsed()
        },
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "cut too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "cut too late: {elapsed:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let (elapsed, _) = common::with_server(
        |server| server.header_read_timeout(Some(Duration::from_millis(300))),
        |addr| {
            let mut stream = common::connect(addr);
            let reply = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(reply.status, 200);
            let start = Instant::now();
            assert!(common::is_closed(&mut stream));
            start.elapsed()
        },
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "closed too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "closed too late: {elapsed:?}"
    );
}
