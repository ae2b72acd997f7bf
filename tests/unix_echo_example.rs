//! The `unix_echo` example: its banner names the path and driver, it echoes a std client's
//! bytes, SIGTERM stops it with exit 0 and removes its socket file, a stale file is refused
//! with the advice and `--replace-stale` replaces it, and `--help` lists every flag.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::unix::TempDir;

fn echo_on(backend: &str) {
    let dir = TempDir::new("example");
    let path = dir.join("echo.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // a stale file
    let bin = common::example_binary("unix_echo");
    let path_arg = path.to_str().unwrap();
    let refused = common::run_example(&bin, &["--path", path_arg, "--backend", backend]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stale socket file at") && stderr.contains("replace_stale"),
        "{stderr}"
    );
    let mut child = Command::new(&bin)
        .args(["--path", path_arg, "--backend", backend, "--replace-stale"])
        .args(["--idle-timeout", "5", "--max-connections", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    assert!(
        banner.contains(&format!(
            "listening on {} (backend: {backend})",
            path.display()
        )),
        "{banner}"
    );
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let msg = common::pattern(100_000, 3);
    c.write_all(&msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).unwrap();
    assert!(got == msg);
    drop(c);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(!path.exists(), "the socket file is removed at exit");
}

#[test]
fn unix_echo_echoes_on_epoll_and_stops_on_sigterm() {
    echo_on("epoll");
}

#[test]
fn unix_echo_echoes_on_io_uring() {
    if std::env::var_os("EVENT_NO_IO_URING").is_some() {
        println!("note: skipped, io_uring is refused on this machine");
        return;
    }
    echo_on("io_uring");
}

#[test]
fn unix_echo_help_prints_every_flag_and_exits_zero() {
    let out = common::run_example(&common::example_binary("unix_echo"), &["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.starts_with("usage: unix_echo"), "{stdout}");
    for flag in [
        "--path",
        "--max-connections",
        "--idle-timeout",
        "--drain-timeout",
        "--replace-stale",
        "--backend",
    ] {
        assert!(stdout.contains(flag), "{flag} missing: {stdout}");
    }
}
