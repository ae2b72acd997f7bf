//! The `udp_echo` example: its banner names the address and driver, it echoes datagrams from a
//! std client, `--help` prints the usage on stdout, and SIGTERM stops it with exit 0.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

fn echo_on(backend: &str) {
    let bin = common::example_binary("udp_echo");
    let mut child = Command::new(&bin)
        .args(["--addr", "127.0.0.1:0", "--backend", backend])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    assert!(
        banner.contains(&format!("(backend: {backend},")),
        "{banner}"
    );
    let addr: SocketAddr = banner
        .split_whitespace()
        .nth(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {banner:?}"));
    let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 65_536];
    for len in [0usize, 1, 256, 1400, 65_507] {
        let msg: Vec<u8> = (0..len).map(|i| (i % 256) as u8).collect();
        c.send_to(&msg, addr).unwrap();
        let (n, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!(from, addr);
        assert!(buf[..n] == msg[..], "a {len}-byte datagram");
    }
    // Stop our own child by its pid.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn udp_echo_echoes_datagrams_on_epoll_and_stops_on_sigterm() {
    echo_on("epoll");
}

#[test]
fn udp_echo_echoes_datagrams_on_io_uring() {
    if std::env::var_os("EVENT_NO_IO_URING").is_some() {
        println!("note: skipped, io_uring is refused on this machine");
        return;
    }
    echo_on("io_uring");
}

#[test]
fn udp_echo_help_prints_every_flag_and_exits_zero() {
    let out = common::run_example(&common::example_binary("udp_echo"), &["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.starts_with("usage: udp_echo"), "{stdout}");
    for flag in ["--addr", "--threads", "--backend"] {
        assert!(stdout.contains(flag), "{flag} missing: {stdout}");
    }
}
