//! Linux's abstract namespace: a name that starts with '@' (or `UnixAddress::abstract_name`)
//! makes no file, and a second listener on the same name is refused with a clear error.

mod common;

use common::unix::{abstract_name, read_exact, unix_pair};
use event::{SocketError, UnixAddress, UnixSocket};

#[test]
fn an_abstract_name_echoes_and_leaves_no_file() {
    let name = abstract_name("abs");
    let server = UnixSocket::listen(name.as_str()).unwrap();
    let bare = name.trim_start_matches('@');
    assert_eq!(server.local_address(), UnixAddress::abstract_name(bare));
    assert_eq!(server.local_address().to_string(), name);
    assert!(!std::path::Path::new(&name).exists() && !std::path::Path::new(bare).exists());
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        assert_eq!(
            client.peer_address().unwrap(),
            UnixAddress::abstract_name(bare)
        );
        client.write(b"abstract").await.unwrap();
        assert_eq!(read_exact(&accepted, 8).await.unwrap(), b"abstract");
        // The explicit constructor reaches the same listener.
        let again = UnixSocket::connect(UnixAddress::abstract_name(bare))
            .await
            .unwrap();
        let second = server.accept().await.unwrap();
        second.write(b"ok").await.unwrap();
        assert_eq!(read_exact(&again, 2).await.unwrap(), b"ok");
    });
}

#[test]
fn a_name_in_use_is_refused_and_freed_with_its_listener() {
    let name = abstract_name("inuse");
    let first = UnixSocket::listen(name.as_str()).unwrap();
    let err = UnixSocket::listen(name.as_str()).unwrap_err();
    assert!(
        matches!(&err, SocketError::Unix { op: "bind", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("another socket has this abstract name"),
        "{err}"
    );
    drop(first);
    UnixSocket::listen(name.as_str()).expect("the name is free once its listener is gone");
}

#[test]
fn connecting_to_a_name_nobody_has_is_refused() {
    let name = abstract_name("nobody");
    let err = common::run(UnixSocket::connect(name.as_str())).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED), "{err}");
    assert!(
        err.to_string().contains("nobody listens on this name"),
        "{err}"
    );
}
