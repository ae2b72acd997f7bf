//! Clear errors for the Unix datagram addresses that cannot work: too long for sun_path (to
//! bind, connect or send to), a directory that does not exist, a directory this user may not
//! write, and sending or connecting where nobody is bound.

mod common;

use std::io;

use common::unix::{LockedDir, TempDir, assert_may_not_create, assert_missing_directory};
use event::{SocketError, UnixDatagram};

#[test]
fn a_path_over_sun_path_is_refused_for_bind_connect_and_send() {
    let dir = TempDir::new("dg-long");
    let long = dir.join(&"x".repeat(120));
    let err = UnixDatagram::bind(&long).unwrap_err();
    assert!(
        matches!(err, SocketError::UnixPathTooLong { max: 107, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("use a shorter path"), "{err}");
    assert!(!long.exists());
    let socket = UnixDatagram::unbound().unwrap();
    let err = socket.connect(&long).unwrap_err();
    assert!(
        matches!(err, SocketError::UnixPathTooLong { .. }),
        "{err:?}"
    );
    let err = common::run(socket.send_to(b"x", &long)).unwrap_err();
    assert!(
        matches!(err, SocketError::UnixPathTooLong { .. }),
        "{err:?}"
    );
}

#[test]
fn a_missing_directory_says_to_create_it() {
    let dir = TempDir::new("dg-missing");
    let err = UnixDatagram::bind(dir.join("no/such/s.sock")).unwrap_err();
    assert_missing_directory(&err, &dir.join("no/such"));
}

#[test]
fn a_directory_this_user_may_not_write_says_what_to_do() {
    let dir = TempDir::new("dg-perm");
    let locked = LockedDir::new(&dir);
    assert_may_not_create(UnixDatagram::bind(locked.join("s.sock")));
}

#[test]
fn sending_or_connecting_where_nobody_is_bound_names_the_path_and_asks() {
    let dir = TempDir::new("dg-nobody");
    let absent = dir.join("absent.sock");
    let socket = UnixDatagram::unbound().unwrap();
    let err = socket.connect(&absent).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    assert!(err.to_string().contains("is the server running"), "{err}");
    let err = common::run(socket.send_to(b"x", &absent)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("send to {}", absent.display())),
        "{text}"
    );
    assert!(text.contains("is the server running"), "{text}");
    let err = common::run(socket.send(b"x")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotConnected, "{err}");
}
