//! A second echo server on a port the first one serves fails with "address in use" (exit 1),
//! with several loops (`SO_REUSEPORT`) as with one, instead of taking part of its connections.
mod common;

use std::io::{Read, Write};
use std::time::Duration;

fn second_is_refused(first_flags: &[&str], second_threads: &str) {
    let first = common::EchoProcess::start(&[], first_flags);
    let addr = first.addr.to_string();
    let out = common::run_example(
        &common::echo_binary(),
        &["--addr", &addr, "--threads", second_threads],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{first_flags:?} then {second_threads}: {err}"
    );
    assert!(
        err.contains(&format!("bind {addr}")) && err.contains("in use"),
        "{first_flags:?} then {second_threads}: {err}"
    );
    // The first still serves every connection.
    for _ in 0..8 {
        let mut s = std::net::TcpStream::connect(first.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"mine").unwrap();
        let mut back = [0u8; 4];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"mine");
    }
}

#[test]
fn a_second_two_thread_echo_on_the_same_port_is_refused() {
    second_is_refused(&["--threads", "2"], "2");
}

#[test]
fn a_two_thread_echo_on_a_one_thread_echo_port_is_refused() {
    second_is_refused(&[], "2");
}

#[test]
fn a_one_thread_echo_on_a_two_thread_echo_port_is_refused() {
    second_is_refused(&["--threads", "2"], "1");
}
