//! The line client notices the server closing the connection while its stdin is still open, and
//! exits then (status 0, having printed what the server sent), instead of waiting for stdin.
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts the client against `addr` with stdin and stdout piped.
fn client(addr: std::net::SocketAddr) -> std::process::Child {
    Command::new(common::example_binary("client"))
        .arg(addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn client_exits_when_the_server_closes_while_stdin_is_open() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = client(server.local_addr().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let (conn, _) = server.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // One line each way, so the client is in its session, then the server closes.
    stdin.write_all(b"hello\n").unwrap();
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line).unwrap();
    assert_eq!(line, "hello\n");
    (&conn).write_all(b"bye\n").unwrap();
    drop(conn);
    // `stdin` stays open: only the server's close can end the client.
    let status = common::wait_timeout(&mut child, Duration::from_secs(5));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = status.expect("client still ran 5 s after the server closed");
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(out, "bye\n");
    drop(stdin);
}

#[test]
fn client_exits_when_the_server_closes_before_any_input() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = client(server.local_addr().unwrap());
    let stdin = child.stdin.take().unwrap();
    let (conn, _) = server.accept().unwrap();
    drop(conn);
    let status = common::wait_timeout(&mut child, Duration::from_secs(5))
        .expect("client still ran 5 s after the server closed");
    assert!(status.success(), "{status:?}");
    drop(stdin);
}
