//! Runs the echo example binary and talks to it over loopback.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn echo_example_prints_address_and_backend_and_echoes() {
    let echo = common::EchoProcess::start(&[], &[]);
    assert!(echo.addr.ip().is_loopback());
    assert!(echo.banner.contains("backend: epoll"), "{}", echo.banner);
    let mut s = TcpStream::connect(echo.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let msg = common::pattern(100_000, 5);
    s.write_all(&msg).unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).unwrap();
    assert!(back == msg);
}
