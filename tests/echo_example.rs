//! Runs the echo example binary and talks to it over loopback.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Starts the echo example with `flags`, checks that its banner names `backend`, and echoes
/// 100 kB through it.
fn echo_on(flags: &[&str], backend: &str) {
    let echo = common::EchoProcess::start(&[], flags);
    assert!(echo.addr.ip().is_loopback());
    assert!(
        echo.banner.contains(&format!("backend: {backend},")),
        "{flags:?}: {}",
        echo.banner
    );
    let mut s = TcpStream::connect(echo.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let msg = common::pattern(100_000, 5);
    s.write_all(&msg).unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).unwrap();
    assert!(back == msg);
}

#[test]
fn echo_example_prints_address_and_backend_and_echoes() {
    echo_on(&["--backend", "epoll"], event::backend());
}

#[test]
#[cfg(target_os = "linux")]
fn echo_example_runs_on_io_uring() {
    // CI sets EVENT_NO_IO_URING when its machine refuses io_uring (see .ci/run).
    if std::env::var_os("EVENT_NO_IO_URING").is_some() {
        return;
    }
    echo_on(&["--backend", "io_uring"], "io_uring");
}

#[test]
fn echo_example_rejects_an_unknown_backend() {
    let out = std::process::Command::new(common::echo_binary())
        .args(["--backend", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--backend") && err.contains("nope"), "{err}");
}
