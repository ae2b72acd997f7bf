//! A Unix datagram socket's file, as the listener's: a stale file is an error unless
//! `replace_stale(true)`, a live socket's file or a file that is not a socket is never removed,
//! and the socket removes only its own file when dropped (unless `remove_on_close(false)`).

mod common;

use common::unix::TempDir;
use event::{SocketError, UnixDatagram, UnixDatagramOptions};

/// A socket file nobody has open: bound by a std socket that is then dropped.
fn stale_file(path: &std::path::Path) {
    drop(std::os::unix::net::UnixDatagram::bind(path).unwrap());
    assert!(path.exists());
}

#[test]
fn a_stale_file_is_an_error_unless_replacing_is_asked_for() {
    let dir = TempDir::new("dg-stale");
    let path = dir.join("s.sock");
    stale_file(&path);
    let err = UnixDatagram::bind(&path).unwrap_err();
    assert!(
        matches!(&err, SocketError::StaleSocketFile { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("replace_stale(true)"), "{err}");
    assert!(path.exists(), "nothing was deleted");
    let socket = UnixDatagramOptions::new()
        .replace_stale(true)
        .bind(&path)
        .unwrap();
    common::run(async {
        UnixDatagram::unbound()
            .unwrap()
            .send_to(b"new", &path)
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"new", "the replacement is bound there");
    });
}

#[test]
fn a_live_socket_or_a_plain_file_is_never_replaced() {
    let dir = TempDir::new("dg-live");
    let live = dir.join("live.sock");
    let _owner = std::os::unix::net::UnixDatagram::bind(&live).unwrap();
    let err = UnixDatagramOptions::new()
        .replace_stale(true)
        .bind(&live)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE), "{err}");
    let listener_path = dir.join("listener.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&listener_path).unwrap();
    let err = UnixDatagramOptions::new()
        .replace_stale(true)
        .bind(&listener_path)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE), "{err}");
    let plain = dir.join("plain");
    std::fs::write(&plain, b"keep me").unwrap();
    let err = UnixDatagramOptions::new()
        .replace_stale(true)
        .bind(&plain)
        .unwrap_err();
    assert!(err.to_string().contains("not a socket file"), "{err}");
    assert_eq!(std::fs::read(&plain).unwrap(), b"keep me");
}

#[test]
fn the_socket_removes_only_its_own_file_when_dropped() {
    let dir = TempDir::new("dg-own");
    let path = dir.join("s.sock");
    drop(UnixDatagram::bind(&path).unwrap());
    assert!(!path.exists(), "its own file is removed");
    drop(
        UnixDatagramOptions::new()
            .remove_on_close(false)
            .bind(&path)
            .unwrap(),
    );
    assert!(path.exists(), "kept when asked");
    std::fs::remove_file(&path).unwrap();
    let socket = UnixDatagram::bind(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let other = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    drop(socket);
    assert!(
        path.exists(),
        "a file another socket bound since is left alone"
    );
    drop(other);
}
