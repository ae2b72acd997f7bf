//! Unix datagram sockets' addresses: abstract names, paths that cannot work, stale socket
//! files, unnamed senders, socket pairs and a Python peer. One module per behaviour (each was
//! its own test binary).

mod common;

mod unix_datagram_abstract_names {
    //! Unix datagram sockets in Linux's abstract namespace: no file is made, the sender's name is
    //! reported, a name in use is refused with a clear error, and the name is free again once the
    //! socket is dropped.

    use crate::common;

    use common::unix::abstract_name;
    use event::{UnixAddress, UnixDatagram};

    #[test]
    fn abstract_names_send_receive_and_report_the_sender() {
        common::run(async {
            let (s, c) = (abstract_name("dg-abs-s"), abstract_name("dg-abs-c"));
            let server = UnixDatagram::bind(s.as_str()).unwrap();
            let client = UnixDatagram::bind(c.as_str()).unwrap();
            assert_eq!(server.local_address(), UnixAddress::from(s.as_str()));
            assert_eq!(server.local_address().as_path(), None, "no file");
            client.send_to(b"hi", s.as_str()).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"hi");
            assert_eq!(from, UnixAddress::abstract_name(&c.as_bytes()[1..]));
            server.send_to(b"ho", &from).await.unwrap();
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from.to_string()), (&b"ho"[..], s.clone()));
        });
    }

    #[test]
    fn a_name_in_use_is_refused_and_free_again_after_the_drop() {
        let name = abstract_name("dg-abs-busy");
        let first = UnixDatagram::bind(name.as_str()).unwrap();
        let err = UnixDatagram::bind(name.as_str()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
        assert!(
            err.to_string()
                .contains("another socket has this abstract name"),
            "{err}"
        );
        drop(first);
        UnixDatagram::bind(name.as_str()).unwrap();
    }
}

mod unix_datagram_path_errors {
    //! Clear errors for the Unix datagram addresses that cannot work: too long for sun_path (to
    //! bind, connect or send to), a directory that does not exist, a directory this user may not
    //! write, and sending or connecting where nobody is bound.

    use crate::common;

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
}

mod unix_datagram_stale_socket_file {
    //! A Unix datagram socket's file, as the listener's: a stale file is an error unless
    //! `replace_stale(true)`, a live socket's file or a file that is not a socket is never removed,
    //! and the socket removes only its own file when dropped (unless `remove_on_close(false)`).

    use crate::common;

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
}

mod unix_datagram_unnamed_sender {
    //! An unbound Unix datagram socket sends as `UnixAddress::Unnamed`; once connected it also
    //! receives, from its peer only.

    use crate::common;

    use common::unix::TempDir;
    use event::{UnixAddress, UnixDatagram};

    #[test]
    fn an_unbound_sender_is_reported_as_unnamed() {
        let dir = TempDir::new("dg-unnamed");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let client = UnixDatagram::unbound().unwrap();
            assert_eq!(client.local_address(), UnixAddress::Unnamed);
            client.send_to(b"anon", dir.join("s.sock")).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], &from), (&b"anon"[..], &UnixAddress::Unnamed));
            assert_eq!(from.to_string(), "(unnamed)");
            let err = server.send_to(b"reply", &from).await.unwrap_err();
            assert!(
                matches!(err, event::SocketError::InvalidAddress { .. }),
                "{err:?}"
            );
        });
    }

    #[test]
    fn a_connected_unbound_socket_sends_to_its_peer_as_unnamed() {
        let dir = TempDir::new("dg-conn");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let client = UnixDatagram::unbound().unwrap();
            client.connect(dir.join("s.sock")).unwrap();
            assert_eq!(client.peer_address(), Some(server.local_address()));
            client.send(b"hello").await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"hello"[..], UnixAddress::Unnamed));
        });
    }

    #[test]
    fn a_connected_socket_receives_from_its_peer_only() {
        let dir = TempDir::new("dg-peer");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let stranger = UnixDatagram::bind(dir.join("x.sock")).unwrap();
            let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
            client.connect(dir.join("s.sock")).unwrap();
            let err = stranger
                .send_to(b"stranger", dir.join("c.sock"))
                .await
                .unwrap_err();
            assert_eq!(
                err.raw_os_error(),
                Some(libc::EPERM),
                "the kernel refuses strangers: {err}"
            );
            server.send_to(b"peer", dir.join("c.sock")).await.unwrap();
            let mut buf = [0u8; 16];
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"peer");
        });
    }
}

mod unix_datagram_pair {
    //! `UnixDatagram::pair`: two connected, unnamed sockets, each datagram whole in both
    //! directions, the peer's credentials (the kernel records them for a pair), and none for a
    //! socket connected with `connect`.

    use crate::common;

    use common::unix::abstract_name;
    use event::{UnixAddress, UnixDatagram};

    #[test]
    fn a_pair_carries_datagrams_both_ways_with_boundaries_kept() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            assert_eq!(a.peer_address(), Some(UnixAddress::Unnamed));
            assert_eq!(a.local_address(), UnixAddress::Unnamed);
            a.send(b"one").await.unwrap();
            a.send(b"two").await.unwrap();
            b.send(b"back").await.unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"one"[..], UnixAddress::Unnamed));
            assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
            assert_eq!(&buf[..3], b"two");
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"back");
        });
    }

    #[test]
    fn a_pair_knows_its_peers_credentials_and_a_connected_socket_says_it_has_none() {
        common::run(async {
            let (a, _b) = UnixDatagram::pair().unwrap();
            let cred = a.peer_credentials().unwrap();
            assert_eq!(cred.pid, std::process::id() as i32);
            assert_eq!(cred.uid, own_uid());
            let name = abstract_name("dg-cred");
            let _server = UnixDatagram::bind(name.as_str()).unwrap();
            let client = UnixDatagram::unbound().unwrap();
            client.connect(name.as_str()).unwrap();
            let err = client.peer_credentials().unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
            assert!(err.to_string().contains("socket pair only"), "{err}");
        });
    }

    /// This process's user id, from /proc (no libc call needed).
    fn own_uid() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    }
}

mod unix_datagram_python_peer {
    //! Unix datagrams against another implementation: Python's socket module (AF_UNIX,
    //! SOCK_DGRAM, `python3 -c`) as the client of our echo socket, bound to a path of its own,
    //! every byte value, a 0-byte and a 100 KB datagram included. Skipped, with a note, where
    //! python3 is missing.

    use crate::common;

    use std::time::Duration;

    use common::unix::TempDir;
    use event::UnixDatagram;

    const CLIENT: &str = r#"
import socket, sys
server, own = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(own)
s.settimeout(10)
msgs = [bytes(range(256)), b"", b"hello from python", bytes([0xa5]) * 100000]
for m in msgs:
    s.sendto(m, server)
    data, addr = s.recvfrom(200000)
    assert addr == server, addr
    assert data == m, (len(data), len(m))
s.sendto(b"done", server)
print("ok", len(msgs))
"#;

    #[test]
    fn a_python_client_gets_every_datagram_echoed() {
        let dir = TempDir::new("dg-python");
        let server = UnixDatagram::bind(dir.join("server.sock")).unwrap();
        let own = dir.join("python.sock");
        let Some(child) = common::python::spawn(CLIENT, &[dir.join("server.sock"), own.clone()])
        else {
            return;
        };
        common::run(async {
            let mut buf = vec![0u8; 200_000];
            loop {
                let (n, from) = server
                    .recv_from(&mut buf)
                    .timeout(Duration::from_secs(20))
                    .await
                    .expect("a datagram from python");
                assert_eq!(from.as_path(), Some(own.as_path()), "python's own path");
                if &buf[..n] == b"done" {
                    break;
                }
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        common::python::expect_output(child, "ok 4");
    }
}
