//! Unix-domain stream sockets' addresses: the abstract namespace, paths that cannot work,
//! stale socket files and the peer's credentials. One module per behaviour (each was its own
//! test binary).

mod common;

mod unix_abstract_namespace {
    //! Linux's abstract namespace: a name that starts with '@' (or `UnixAddress::abstract_name`)
    //! makes no file, and a second listener on the same name is refused with a clear error.

    use crate::common;

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
}

mod unix_path_errors {
    //! Clear errors for the paths that cannot work: too long for sun_path, a directory that does
    //! not exist, a directory this user may not write, and connecting where there is no file.

    use crate::common;

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
}

mod unix_stale_socket_file {
    //! A socket file left by a listener that is gone: listening there fails with
    //! `StaleSocketFile` (the file is kept), `replace_stale(true)` replaces it after checking that
    //! nobody listens; a live listener's file and a file that is not a socket are never removed.

    use crate::common;

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
}

mod unix_peer_credentials {
    //! `SO_PEERCRED`: both ends of a connection, and of a socket pair, see this process's pid, uid
    //! and gid (the peer is this process).

    use crate::common;

    use common::unix::{TempDir, unix_pair};
    use event::UnixSocket;

    /// This process's pid, and its effective uid and gid (the owner of its /proc directory).
    fn ours() -> (i32, u32, u32) {
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata("/proc/self").unwrap();
        (std::process::id() as i32, me.uid(), me.gid())
    }

    #[test]
    fn accepted_and_connected_sockets_report_this_process() {
        let dir = TempDir::new("cred");
        let server = UnixSocket::listen(dir.join("c.sock")).unwrap();
        common::run(async {
            let (client, accepted) = unix_pair(&server).await;
            for s in [&client, &accepted] {
                let c = s.peer_credentials().unwrap();
                assert_eq!((c.pid, c.uid, c.gid), ours());
            }
        });
    }

    #[test]
    fn a_socket_pair_reports_this_process() {
        common::run(async {
            let (a, b) = UnixSocket::pair().unwrap();
            let c = a.peer_credentials().unwrap();
            assert_eq!((c.pid, c.uid, c.gid), ours());
            assert_eq!(b.peer_credentials().unwrap(), c);
        });
    }

    #[test]
    fn a_python_client_is_seen_with_its_own_pid() {
        let dir = TempDir::new("credpy");
        let path = dir.join("py.sock");
        let server = UnixSocket::listen(&path).unwrap();
        let script = "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.recv(1)\n";
        let Ok(mut child) = std::process::Command::new("python3")
            .args(["-c", script, path.to_str().unwrap()])
            .spawn()
        else {
            println!("note: skipped, python3 is not installed");
            return;
        };
        common::run(async {
            let peer = server.accept().await.unwrap();
            assert_eq!(peer.peer_credentials().unwrap().pid, child.id() as i32);
            peer.write(b"x").await.unwrap();
        });
        assert!(child.wait().unwrap().success());
    }
}

mod unix_accept_burst_of_named_clients {
    //! Clients bound to long names connect at once: on io_uring one multishot accept takes them
    //! in one enter, and each peer's address (longer than any IP address) must stay inside the
    //! accept's address buffer. Each accepted socket names its own client.

    use crate::common;

    use event::{UnixAddress, UnixSocket};
    use socket2::{Domain, SockAddr, Socket, Type};

    #[test]
    fn each_accepted_socket_names_its_client() {
        let n = 32;
        let dir = std::env::temp_dir().join(format!("event-uburst-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let listen = dir.join("l");
        let _ = std::fs::remove_file(&listen);
        // 100-byte addresses, near the longest a path can be.
        let names: Vec<_> = (0..n)
            .map(|i| dir.join(format!("{i:02}{}", "n".repeat(60))))
            .collect();
        let server = UnixSocket::listen(UnixAddress::path(&listen)).unwrap();
        let clients: Vec<Socket> = names
            .iter()
            .map(|name| {
                let _ = std::fs::remove_file(name);
                let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
                s.bind(&SockAddr::unix(name).unwrap()).unwrap();
                s.connect(&SockAddr::unix(&listen).unwrap()).unwrap();
                s
            })
            .collect();
        common::run(async {
            let mut seen = Vec::new();
            let mut accepted = Vec::new();
            for _ in 0..n {
                let peer = server.accept().await.unwrap();
                seen.push(peer.peer_address().unwrap());
                accepted.push(peer);
            }
            let want: Vec<_> = names.iter().map(UnixAddress::path).collect();
            seen.sort_by_key(|a| a.to_string());
            assert_eq!(seen, want);
        });
        drop(clients);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
