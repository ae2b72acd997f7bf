//! The line client example against the echo example: sends stdin, prints what comes back, and
//! exits cleanly at the end of its input.
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn client_example_echoes_stdin_and_exits_zero_at_eof() {
    let echo = common::EchoProcess::start(&[], &[]);
    let mut client = Command::new(common::example_binary("client"))
        .arg(echo.addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"first line\nsecond line\n").unwrap();
    drop(stdin); // end of input: the client half-closes and prints the rest of the reply
    let start = Instant::now();
    let out = client.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first line\nsecond line\n"
    );
}

#[test]
fn client_example_reports_a_refused_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(common::example_binary("client"))
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connect 127.0.0.1:") && err.contains("refused"),
        "{err}"
    );
}
