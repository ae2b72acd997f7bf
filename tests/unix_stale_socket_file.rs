//! A socket file left by a listener that is gone: listening there fails with
//! `StaleSocketFile` (the file is kept), `replace_stale(true)` replaces it after checking that
//! nobody listens; a live listener's file and a file that is not a socket are never removed.

mod common;

use common::unix::{TempDir, read_exact, unix_pair};
use event::{SocketError, UnixListenOptions, UnixSocket};

/// Leaves a stale socket file at `path` (std's listener does not remove it when dropped).
fn leave_stale(path: &std::path::Path) {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    assert!(path.exists());
}

#[test]
fn a_stale_file_is_an_error_that_says_what_to_do() {
    let dir = TempDir::new("stale");
    let path = dir.join("s.sock");
    leave_stale(&path);
    let err = UnixSocket::listen(&path).unwrap_err();
    assert!(
        matches!(&err, SocketError::StaleSocketFile { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "stale socket file at {}: remove it, or listen with replace_stale(true)",
            path.display()
        )
    );
    assert!(path.exists(), "never deleted without being asked");
    // A client sees who is (not) there.
    let refused = common::run(UnixSocket::connect(&path)).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
    assert!(
        refused.to_string().contains("stale socket file"),
        "{refused}"
    );
}

#[test]
fn replace_stale_replaces_a_dead_file_and_serves() {
    let dir = TempDir::new("replace");
    let path = dir.join("r.sock");
    leave_stale(&path);
    let server = UnixListenOptions::new()
        .replace_stale(true)
        .listen(&path)
        .unwrap();
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        client.write(b"fresh").await.unwrap();
        assert_eq!(read_exact(&accepted, 5).await.unwrap(), b"fresh");
    });
}

#[test]
fn replace_stale_never_takes_a_live_listeners_path() {
    let dir = TempDir::new("live");
    let path = dir.join("l.sock");
    let live = UnixSocket::listen(&path).unwrap();
    let err = UnixListenOptions::new()
        .replace_stale(true)
        .listen(&path)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE), "{err}");
    assert!(
        err.to_string().contains("another process listens there"),
        "{err}"
    );
    // The live listener still works. The check connected once (and closed at once): that
    // connection is the first one it accepts.
    common::run(async {
        let probe = live.accept().await.unwrap();
        assert!(matches!(
            probe.read(1).await,
            Err(SocketError::ConnectionClosed)
        ));
        let (client, accepted) = unix_pair(&live).await;
        accepted.write(b"still").await.unwrap();
        assert_eq!(read_exact(&client, 5).await.unwrap(), b"still");
    });
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = TempDir::new("regular");
    let path = dir.join("data.txt");
    std::fs::write(&path, b"precious").unwrap();
    let err = UnixListenOptions::new()
        .replace_stale(true)
        .listen(&path)
        .unwrap_err();
    assert!(err.to_string().contains("not a socket file"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn a_listener_that_replaced_a_file_removes_only_its_own() {
    let dir = TempDir::new("own");
    let path = dir.join("o.sock");
    let first = UnixSocket::listen(&path).unwrap();
    // Someone removes the file and binds another one at the same path.
    std::fs::remove_file(&path).unwrap();
    let second = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(first);
    assert!(path.exists(), "the other listener's file stays");
    drop(second);
}
