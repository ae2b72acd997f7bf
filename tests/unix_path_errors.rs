//! Clear errors for the paths that cannot work: too long for sun_path, a directory that does
//! not exist, a directory this user may not write, and connecting where there is no file.

mod common;

use std::io;

use common::unix::{LockedDir, TempDir, assert_may_not_create, assert_missing_directory};
use event::{SocketError, UnixAddress, UnixSocket};

#[test]
fn a_path_over_sun_path_is_refused_before_anything_is_made() {
    let dir = TempDir::new("long");
    let long = dir.join(&"x".repeat(120));
    let err = UnixSocket::listen(&long).unwrap_err();
    assert!(
        matches!(&err, SocketError::UnixPathTooLong { max: 107, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("use a shorter path") && text.contains("108"),
        "{text}"
    );
    assert!(!long.exists());
    let err = common::run(UnixSocket::connect(&long)).unwrap_err();
    assert!(
        matches!(err, SocketError::UnixPathTooLong { .. }),
        "{err:?}"
    );
    let name = UnixAddress::abstract_name(vec![b'n'; 108]);
    let err = UnixSocket::listen(name).unwrap_err();
    assert!(
        matches!(err, SocketError::UnixPathTooLong { len: 108, .. }),
        "{err:?}"
    );
}

#[test]
fn the_longest_path_that_fits_works() {
    let dir = TempDir::new("fit");
    let base = dir.path().as_os_str().len() + 1;
    if base >= 100 {
        println!("note: skipped, the temporary directory's path is too long");
        return;
    }
    let path = dir.join(&"y".repeat(107 - base));
    assert_eq!(path.as_os_str().len(), 107);
    let server = UnixSocket::listen(&path).unwrap();
    common::run(async {
        let (c, _a) = common::unix::unix_pair(&server).await;
        drop(c);
    });
}

#[test]
fn a_missing_directory_says_to_create_it() {
    let dir = TempDir::new("missing");
    let path = dir.join("no/such/dir/s.sock");
    let err = UnixSocket::listen(&path).unwrap_err();
    assert_missing_directory(&err, &dir.join("no/such/dir"));
}

#[test]
fn connecting_to_a_missing_file_asks_whether_the_server_runs() {
    let dir = TempDir::new("nofile");
    let err = common::run(UnixSocket::connect(dir.join("absent.sock"))).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    assert!(err.to_string().contains("is the server running"), "{err}");
}

#[test]
fn permission_denied_says_what_to_do() {
    let dir = TempDir::new("perm");
    let locked = LockedDir::new(&dir);
    assert_may_not_create(UnixSocket::listen(locked.join("s.sock")));
    // As root (which writes anywhere) the bind succeeds: check the messages the errors carry.
    let err = SocketError::Unix {
        op: "bind",
        address: UnixAddress::path(locked.join("s.sock")),
        source: io::Error::from_raw_os_error(libc::EACCES),
    };
    assert!(
        err.to_string().contains("may not create a file in"),
        "{err}"
    );
    let err = SocketError::Unix {
        op: "connect",
        address: UnixAddress::path(locked.join("s.sock")),
        source: io::Error::from_raw_os_error(libc::EACCES),
    };
    assert!(
        err.to_string().contains("may not open the socket file"),
        "{err}"
    );
}
