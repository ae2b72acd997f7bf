//! TCP connections made: listening in every form, accepting (from several tasks, per core),
//! connecting, the nodelay option and socket addresses. One module per behaviour (each was its
//! own test binary).

mod common;

mod tcp_listen {
    use crate::common;

    use event::{ListenOptions, Socket, SocketAddress, SocketError};

    #[test]
    fn port_zero_gives_an_ephemeral_port_on_all_ipv4_interfaces() {
        let server = Socket::listen(0).unwrap();
        assert_ne!(server.local_port(), 0);
        assert_eq!(server.local_address().ip().to_string(), "0.0.0.0");
    }

    #[test]
    fn port_in_use_is_a_bind_error_with_errno_and_address() {
        let first = common::listen_local();
        let addr = first.local_address();
        let err = ListenOptions::new()
            .reuse_address(false)
            .listen_on(addr)
            .unwrap_err();
        match &err {
            SocketError::Bind { addr: a, source } => {
                assert_eq!(*a, addr.to_std());
                assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
            }
            other => panic!("expected Bind, got {other:?}"),
        }
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
        let text = err.to_string();
        assert!(text.starts_with(&format!("bind {addr}: ")), "{text}");
        assert!(text.contains("os error"), "{text}");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
    }

    /// The descriptor of this process's listening socket on `port` (fd numbers are private to the
    /// library, so find the socket whose local port matches, through /proc).
    fn listener_fd(port: u16) -> i32 {
        for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
            let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: getsockname writes at most `len` bytes into `addr`, which is that large.
            let ok = unsafe {
                libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len)
            };
            if ok != 0 {
                continue;
            }
            let found = match addr.ss_family as i32 {
                // SAFETY: the family says which sockaddr type the storage holds.
                libc::AF_INET => unsafe {
                    (*(&addr as *const _ as *const libc::sockaddr_in)).sin_port
                },
                libc::AF_INET6 => unsafe {
                    (*(&addr as *const _ as *const libc::sockaddr_in6)).sin6_port
                },
                _ => continue,
            };
            if u16::from_be(found) == port {
                return fd;
            }
        }
        panic!("no socket of this process is bound to port {port}");
    }

    #[test]
    fn listener_is_close_on_exec_and_non_blocking() {
        let server = common::listen_local();
        let fd = listener_fd(server.local_port());
        // SAFETY: fcntl only reads the flags of a descriptor this process owns.
        let (fd_flags, fl_flags) = unsafe {
            (
                libc::fcntl(fd, libc::F_GETFD),
                libc::fcntl(fd, libc::F_GETFL),
            )
        };
        assert!(
            fd_flags & libc::FD_CLOEXEC != 0,
            "listener lacks FD_CLOEXEC"
        );
        assert!(fl_flags & libc::O_NONBLOCK != 0, "listener is blocking");
    }

    #[test]
    fn ipv6_listen_and_connect_on_loopback() {
        common::run(async {
            let server = Socket::listen_on(SocketAddress::ipv6("::1", 0).unwrap()).unwrap();
            let addr = server.local_address();
            assert!(addr.is_ipv6());
            let accept = event::spawn(async move {
                let peer = server.accept().await.unwrap();
                let got = peer.read(100).await.unwrap();
                peer.write(&got).await.unwrap();
                peer.peer_address()
            });
            let client = Socket::connect(addr).await.unwrap();
            client.write(b"over v6").await.unwrap();
            assert_eq!(client.read(100).await.unwrap(), b"over v6");
            let seen = accept.await.unwrap();
            assert!(seen.is_ipv6());
            assert_eq!(seen, client.local_address().unwrap());
        });
    }

    #[test]
    fn reuse_port_lets_two_listeners_share_a_port() {
        let a = ListenOptions::new()
            .reuse_port(true)
            .listen_on(SocketAddress::localhost(0))
            .unwrap();
        let b = ListenOptions::new()
            .reuse_port(true)
            .listen_on(a.local_address())
            .unwrap();
        assert_eq!(a.local_port(), b.local_port());
    }

    #[test]
    fn accept_without_a_loop_is_a_clear_error() {
        let server = common::listen_local();
        // A foreign executor: poll once by hand.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut accept = std::pin::pin!(server.accept());
        match std::future::Future::poll(accept.as_mut(), &mut cx) {
            std::task::Poll::Ready(Err(SocketError::NoEventLoop)) => {}
            other => panic!("expected NoEventLoop, got {other:?}"),
        }
    }

    /// Connects `n` clients one after another without anyone accepting; returns how many completed
    /// their handshake within 300 ms each (a full backlog drops the SYN).
    fn pending_connects(addr: std::net::SocketAddr, n: usize) -> (usize, Vec<std::net::TcpStream>) {
        let mut clients = Vec::new();
        for _ in 0..n {
            match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300))
            {
                Ok(c) => clients.push(c),
                Err(_) => break,
            }
        }
        (clients.len(), clients)
    }

    #[test]
    fn the_default_backlog_holds_a_burst_of_a_thousand_clients() {
        let max = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if max < 1100 {
            eprintln!("skipped: net.core.somaxconn is {max}, below this test's burst");
            return;
        }
        // Made before any loop runs, and never accepting: the kernel's queue is all there is.
        let server = common::listen_local();
        let (held, _clients) = pending_connects(server.local_address().into(), 1000);
        assert_eq!(
            held, 1000,
            "the backlog held only {held} pending connections"
        );
    }

    #[test]
    fn an_explicit_backlog_still_applies() {
        let server = ListenOptions::new()
            .backlog(16)
            .listen_on(SocketAddress::localhost(0))
            .unwrap();
        let (held, _clients) = pending_connects(server.local_address().into(), 200);
        // Linux completes backlog + 1 handshakes before it drops SYNs.
        assert!(
            held < 200,
            "a backlog of 16 held {held} pending connections"
        );
    }
}

mod tcp_listen_nodelay {
    //! `ListenOptions::nodelay(true)` sets `TCP_NODELAY` on every accepted connection before its
    //! first write (on io_uring as a ring command that travels with the loop's next wait), and
    //! only then: a listener without it leaves the kernel's default (off).
    use crate::common;

    use event::{ListenOptions, Socket};

    /// Whether `TCP_NODELAY` is set on `socket`, asked of the kernel.
    fn nodelay(socket: &Socket) -> bool {
        socket2::SockRef::from(socket).tcp_nodelay().unwrap()
    }

    #[test]
    fn every_accepted_connection_has_nodelay_by_its_first_write() {
        common::run(async {
            let server = ListenOptions::new()
                .nodelay(true)
                .listen_on("127.0.0.1:0")
                .unwrap();
            for i in 0..3 {
                let client = Socket::connect(server.local_address()).await.unwrap();
                let accepted = server.accept().await.unwrap();
                // A round trip: the accepted side's write follows the option in the ring's order.
                accepted.write(b"ping").await.unwrap();
                assert_eq!(client.read(16).await.unwrap(), b"ping");
                assert!(nodelay(&accepted), "connection {i}");
                // The client side is the caller's to set.
                assert!(!nodelay(&client), "connection {i}");
            }
        });
    }

    #[test]
    fn without_the_option_accepted_connections_keep_the_default() {
        common::run(async {
            let server = ListenOptions::new().listen_on("127.0.0.1:0").unwrap();
            let client = Socket::connect(server.local_address()).await.unwrap();
            let accepted = server.accept().await.unwrap();
            accepted.write(b"ping").await.unwrap();
            assert_eq!(client.read(16).await.unwrap(), b"ping");
            assert!(!nodelay(&accepted));
            // The per-socket setter still works on top.
            accepted.set_nodelay(true).unwrap();
            assert!(nodelay(&accepted));
        });
    }

    mod yields_to_set_nodelay {
        //! A listener's `ListenOptions::nodelay` is the default of each connection it accepts, not
        //! a value forced on it later: a connection's own `set_nodelay(false)`, made as soon as
        //! `accept` returns, stays in force once the loop has turned (on io_uring the listener's
        //! option travels as a ring command, which must not run after the socket's own setting and
        //! undo it).
        use super::{common, nodelay};

        use event::{ListenOptions, Socket};

        #[test]
        fn set_nodelay_false_right_after_accept_is_not_undone_by_the_listener() {
            common::run(async {
                let server = ListenOptions::new()
                    .nodelay(true)
                    .listen_on("127.0.0.1:0")
                    .unwrap();
                for i in 0..3 {
                    let client = Socket::connect(server.local_address()).await.unwrap();
                    let accepted = server.accept().await.unwrap();
                    accepted.set_nodelay(false).unwrap();
                    assert!(!nodelay(&accepted), "connection {i}: just set");
                    // Turns of the loop: whatever the listener queued has run by the end of the
                    // trip.
                    accepted.write(b"ping").await.unwrap();
                    assert_eq!(client.read(16).await.unwrap(), b"ping");
                    client.write(b"pong").await.unwrap();
                    assert_eq!(accepted.read(16).await.unwrap(), b"pong");
                    assert!(
                        !nodelay(&accepted),
                        "connection {i}: the listener's option undid set_nodelay(false)"
                    );
                }
            });
        }

        #[test]
        fn set_nodelay_true_then_false_after_accept_ends_false() {
            common::run(async {
                let server = ListenOptions::new()
                    .nodelay(true)
                    .listen_on("127.0.0.1:0")
                    .unwrap();
                let client = Socket::connect(server.local_address()).await.unwrap();
                let accepted = server.accept().await.unwrap();
                accepted.set_nodelay(true).unwrap();
                accepted.set_nodelay(false).unwrap();
                event::sleep(std::time::Duration::from_millis(20)).await;
                accepted.write(b"ping").await.unwrap();
                assert_eq!(client.read(16).await.unwrap(), b"ping");
                assert!(!nodelay(&accepted));
            });
        }
    }

    mod on_accept {
        //! `ListenOptions::nodelay` on a connection that has not written yet: the option is on once
        //! the loop has waited once (on io_uring the listener's ring command travels with the
        //! loop's next wait, as its docs say; on epoll it is on when `accept` returns), and a
        //! connection accepted and dropped at once leaves no option behind for the next socket to
        //! get the descriptor number.
        use super::{common, nodelay};

        use std::time::Duration;

        use event::{ListenOptions, Socket};

        #[test]
        fn nodelay_is_on_after_one_wait_without_any_write() {
            common::run(async {
                let server = ListenOptions::new()
                    .nodelay(true)
                    .listen_on("127.0.0.1:0")
                    .unwrap();
                let _client = Socket::connect(server.local_address()).await.unwrap();
                let accepted = server.accept().await.unwrap();
                event::sleep(Duration::from_millis(5)).await;
                assert!(nodelay(&accepted), "backend {}", event::backend());
            });
        }

        #[test]
        fn a_connection_dropped_at_accept_leaves_no_option_for_the_next_descriptor() {
            common::run(async {
                let server = ListenOptions::new()
                    .nodelay(true)
                    .listen_on("127.0.0.1:0")
                    .unwrap();
                // Plain listener, sockets without the option, to take the freed numbers.
                let plain = ListenOptions::new().listen_on("127.0.0.1:0").unwrap();
                for i in 0..20 {
                    let _client = Socket::connect(server.local_address()).await.unwrap();
                    let accepted = server.accept().await.unwrap();
                    drop(accepted);
                    // A socket made in the same turn, then one after the loop has waited (the
                    // dropped connection's number free again by then, so likely this one's).
                    let same_turn = Socket::connect(plain.local_address()).await.unwrap();
                    let other = plain.accept().await.unwrap();
                    event::sleep(Duration::from_millis(1)).await;
                    assert!(!nodelay(&same_turn), "round {i}: connecting socket");
                    assert!(
                        !nodelay(&other),
                        "round {i}: accepted by the plain listener"
                    );
                    let std_client =
                        std::net::TcpStream::connect(plain.local_address().to_string()).unwrap();
                    let later = plain.accept().await.unwrap();
                    event::sleep(Duration::from_millis(1)).await;
                    assert!(!std_client.nodelay().unwrap(), "round {i}: std socket");
                    assert!(!nodelay(&later), "round {i}: later accepted");
                }
            });
        }
    }

    mod write_and_drop_in_one_turn {
        //! A connection from a `ListenOptions::nodelay` listener that is accepted, written and
        //! dropped without the loop waiting in between (on io_uring its `SetSockOpt`, its send and
        //! its `Close` all queued in that one turn, in that order) still delivers its bytes whole,
        //! then end of stream, and the listener goes on setting the option on the connections after
        //! it.
        use super::common;

        use std::io::Read;
        use std::time::Duration;

        use event::{ListenOptions, Socket};

        #[test]
        fn accepted_written_and_dropped_in_one_turn_delivers_then_closes() {
            let server = ListenOptions::new()
                .nodelay(true)
                .listen_on("127.0.0.1:0")
                .unwrap();
            let addr: std::net::SocketAddr = server.local_address().into();
            let clients = std::thread::spawn(move || {
                for i in 0..50u8 {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut got = Vec::new();
                    c.read_to_end(&mut got).unwrap();
                    assert_eq!(got, [i; 100], "connection {i}");
                }
            });
            common::run(async move {
                for i in 0..50u8 {
                    let accepted = server.accept().await.unwrap();
                    accepted.write(&[i; 100]).await.unwrap();
                    drop(accepted);
                }
                // The option is still set by the listener afterwards.
                let client = Socket::connect(server.local_address()).await.unwrap();
                let last = server.accept().await.unwrap();
                last.write(b"x").await.unwrap();
                assert_eq!(client.read(8).await.unwrap(), b"x");
                assert!(socket2::SockRef::from(&last).tcp_nodelay().unwrap());
            });
            clients.join().unwrap();
        }
    }

    mod every_listener_kind {
        //! `ListenOptions::nodelay` holds wherever the listener accepts: a listener served by one
        //! loop and then by another (each loop's driver sets the option for the connections it
        //! accepts), every loop of `PerCore` (each has its own listener, made from the same
        //! options), and an IPv6 listener (bound to the IPv4-mapped loopback, so traffic stays on
        //! 127.0.0.1).
        use super::{common, nodelay};

        use std::io::{Read, Write};
        use std::net::TcpStream;
        use std::time::Duration;

        use event::{EventLoop, ListenOptions, PerCore, ServerSocket, Socket};

        const LIMIT: Duration = Duration::from_secs(5);

        /// Accepts one connection on the running loop, answers its byte and reports the option
        /// (read once the answer has gone out, and at once after accept on epoll).
        async fn accept_answer(server: &ServerSocket) -> bool {
            let peer = server.accept().await.unwrap();
            let bytes = peer.read(16).await.unwrap();
            peer.write(&bytes).await.unwrap();
            event::sleep(Duration::from_millis(2)).await;
            nodelay(&peer)
        }

        fn client(server: &ServerSocket) -> TcpStream {
            let addr: std::net::SocketAddr = server.local_address().into();
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(LIMIT)).unwrap();
            c.write_all(b"x").unwrap();
            c
        }

        #[test]
        fn a_listener_served_by_two_loops_in_turn_sets_it_on_each() {
            let server = ListenOptions::new()
                .nodelay(true)
                .listen_on("127.0.0.1:0")
                .unwrap();
            let first = EventLoop::new().unwrap();
            let second = EventLoop::new().unwrap();
            for (round, lp) in [&first, &second, &first].into_iter().enumerate() {
                let mut c = client(&server);
                let on = lp
                    .block_on(event::timeout(LIMIT, accept_answer(&server)))
                    .unwrap_or_else(|_| panic!("round {round}: no accept within {LIMIT:?}"));
                let mut back = [0u8; 1];
                c.read_exact(&mut back).unwrap();
                assert!(on, "round {round} on {}", lp.backend());
            }
        }

        #[test]
        fn every_per_core_loop_sets_it() {
            let options = ListenOptions::new().nodelay(true);
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let results = PerCore::new().threads(2).listen(
                &options,
                event::SocketAddress::localhost(port),
                |server, _ctx| async move {
                    assert!(server.nodelay());
                    // Each loop connects to itself: SO_REUSEPORT may hand the connection to either
                    // listener, so each loop accepts until its own listener has given it one.
                    let client = Socket::connect(server.local_address()).await.unwrap();
                    client.write(b"x").await.unwrap();
                    let on =
                        event::timeout(Duration::from_millis(500), accept_answer(&server)).await;
                    drop(client);
                    on.ok()
                },
            );
            let results = results.unwrap();
            let mut accepted = 0;
            for r in results {
                if let Some(on) = r.unwrap() {
                    assert!(on, "a PerCore loop's connection has no TCP_NODELAY");
                    accepted += 1;
                }
            }
            assert!(accepted >= 1, "no loop accepted");
        }

        #[test]
        fn an_ipv6_listener_sets_it() {
            let server = ListenOptions::new()
                .nodelay(true)
                .listen_on("[::ffff:127.0.0.1]:0")
                .unwrap();
            assert!(server.local_address().is_ipv6());
            common::run(async move {
                for i in 0..3 {
                    let client = Socket::connect(server.local_address()).await.unwrap();
                    client.write(b"x").await.unwrap();
                    assert!(accept_answer(&server).await, "connection {i}");
                    assert_eq!(client.read(16).await.unwrap(), b"x");
                }
            });
        }
    }
}

mod listen_on_accepts_connect_forms {
    //! `Socket::listen_on`, `ListenOptions::listen_on` and `PerCore::listen` take the forms
    //! `Socket::connect` takes: text, `SocketAddr`, `SocketAddress`, `(ip, port)`; text that is not
    //! an address is a clear `SocketError`, never a panic.
    use crate::common;

    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

    use event::{ListenOptions, PerCore, ServerSocket, Socket, SocketAddress, SocketError, Target};

    fn loopback(server: &ServerSocket) {
        assert!(server.local_address().ip().is_loopback(), "{server:?}");
        assert_ne!(server.local_port(), 0);
    }

    #[test]
    fn text_forms_listen() {
        loopback(&Socket::listen_on("127.0.0.1:0").unwrap());
        loopback(&Socket::listen_on(String::from("127.0.0.1:0")).unwrap());
        let text = String::from("127.0.0.1:0");
        loopback(&Socket::listen_on(&text).unwrap());
        loopback(&Socket::listen_on(text).unwrap());
        loopback(&Socket::listen_on(("127.0.0.1", 0)).unwrap());
        loopback(&Socket::listen_on(Target::from("127.0.0.1:0")).unwrap());
        let v6 = Socket::listen_on("[::1]:0").unwrap();
        assert!(v6.local_address().is_ipv6());
        loopback(&v6);
        loopback(&Socket::listen_on(("::1", 0)).unwrap());
    }

    #[test]
    fn address_forms_listen_as_before() {
        let sa: SocketAddr = "127.0.0.1:0".parse().unwrap();
        loopback(&Socket::listen_on(sa).unwrap());
        loopback(&Socket::listen_on(SocketAddress::localhost(0)).unwrap());
        loopback(&Socket::listen_on((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).unwrap());
        loopback(&Socket::listen_on((Ipv4Addr::LOCALHOST, 0)).unwrap());
        loopback(&Socket::listen_on((Ipv6Addr::LOCALHOST, 0)).unwrap());
        loopback(&Socket::listen_on(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap());
    }

    #[test]
    fn a_host_name_is_resolved() {
        loopback(&Socket::listen_on("localhost:0").unwrap());
        loopback(&Socket::listen_on(("localhost", 0)).unwrap());
    }

    #[test]
    fn bad_text_is_a_clear_error() {
        for (text, reason) in [
            ("127.0.0.1", "expected ip:port"),
            ("127.0.0.1:99999", "port is not a number"),
            ("300.0.0.1:80", "not an IP address"),
            ("::1:80", "needs brackets"),
            ("", "expected ip:port"),
        ] {
            match Socket::listen_on(text) {
                Err(SocketError::InvalidAddress { input, reason: r }) => {
                    assert_eq!(input, text);
                    assert!(r.contains(reason), "{text:?}: {r}");
                }
                other => panic!("{text:?}: expected InvalidAddress, got {other:?}"),
            }
        }
        match Socket::listen_on("no-such-host.invalid:80") {
            Err(e @ SocketError::Resolve { .. }) => {
                assert!(e.to_string().contains("no-such-host.invalid"), "{e}")
            }
            other => panic!("expected Resolve, got {other:?}"),
        }
        assert!(matches!(
            Socket::listen_on(("300.0.0.1", 80)),
            Err(SocketError::InvalidAddress { .. })
        ));
    }

    #[test]
    fn listen_options_and_per_core_take_text_too() {
        let server = ListenOptions::new()
            .backlog(16)
            .listen_on("127.0.0.1:0")
            .unwrap();
        loopback(&server);
        let ports = PerCore::new()
            .threads(1)
            .listen(
                &ListenOptions::new(),
                "127.0.0.1:0",
                |server, _| async move { server.local_address() },
            )
            .unwrap();
        assert!(ports[0].as_ref().unwrap().ip().is_loopback());
        let err = PerCore::new()
            .threads(1)
            .listen(&ListenOptions::new(), "127.0.0.1", |_, _| async {})
            .unwrap_err();
        assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err}");
    }

    #[test]
    fn a_server_listening_on_text_accepts() {
        common::run(async {
            let server = Socket::listen_on("127.0.0.1:0").unwrap();
            let (client, accepted) =
                common::join(Socket::connect(server.local_address()), server.accept()).await;
            client.unwrap().write(b"hi").await.unwrap();
            assert_eq!(accepted.unwrap().read(2).await.unwrap(), b"hi");
        });
    }
}

mod tcp_accept {
    use crate::common;

    use std::time::Duration;

    use event::{Socket, SocketError};

    #[test]
    fn close_twice_is_harmless_and_wakes_a_pending_accept() {
        common::run(async {
            let server = common::listen_local();
            let closer = server.clone();
            let pending = event::spawn(async move { server.accept().await.map(|_| ()) });
            event::sleep(Duration::from_millis(10)).await;
            assert!(!pending.is_finished(), "accept waits for a connection");
            closer.close();
            closer.close();
            assert!(matches!(pending.await.unwrap(), Err(SocketError::Closed)));
            assert!(closer.is_closed());
            assert!(matches!(closer.accept().await, Err(SocketError::Closed)));
        });
    }

    #[test]
    fn close_refuses_new_connections() {
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address();
            server.close();
            let err = Socket::connect(addr).await.unwrap_err();
            assert!(matches!(err, SocketError::Connect { .. }), "{err:?}");
        });
    }

    #[test]
    fn connections_stream_yields_clients_and_ends_on_close() {
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address();
            let closer = server.clone();
            let acceptor = event::spawn(async move {
                let mut n = 0;
                let mut conns = server.connections();
                while let Some(c) = conns.next().await {
                    c.unwrap();
                    n += 1;
                    if n == 3 {
                        closer.close();
                    }
                }
                n
            });
            let mut clients = Vec::new();
            for _ in 0..3 {
                clients.push(Socket::connect(addr).await.unwrap());
            }
            assert_eq!(acceptor.await.unwrap(), 3);
        });
    }

    #[test]
    fn cancelling_an_accept_loop_frees_the_port() {
        let lp = event::EventLoop::new().unwrap();
        let port = lp.block_on(async {
            let server = common::listen_local();
            let port = server.local_port();
            let task = event::spawn(async move {
                let mut conns = server.connections();
                while let Some(c) = conns.next().await {
                    drop(c);
                }
            });
            event::sleep(Duration::from_millis(5)).await;
            task.cancel().await;
            port
        });
        assert_eq!(lp.stats().sources, 0, "the listener's registration is gone");
        assert_eq!(
            lp.stats().operations,
            0,
            "and its multishot accept (io_uring)"
        );
        // No SO_REUSEADDR: the bind succeeds only if the old listener is really closed.
        let probe =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        probe.bind(&addr.into()).expect("port is free again");
        probe.listen(1).expect("and can listen");
    }

    #[test]
    fn accept_timeout_fires_and_listener_stays_usable() {
        common::run(async {
            let server = common::listen_local();
            let err = server
                .accept()
                .timeout(Duration::from_millis(20))
                .await
                .unwrap_err();
            assert!(err.is_timeout());
            let addr = server.local_address();
            let (_client, accepted) = common::join(Socket::connect(addr), server.accept()).await;
            accepted.unwrap();
        });
    }

    #[test]
    fn close_then_drop_closes_the_descriptor_once() {
        // The seed closed twice: an unrelated file that reused the number got closed too.
        common::run(async {
            let server = common::listen_local();
            let clone = server.clone();
            server.close();
            // The freed descriptor number is likely reused by this file.
            let mut file = tempfile_in_tmp();
            drop(server);
            drop(clone);
            use std::io::Write;
            file.write_all(b"still open")
                .expect("the reused descriptor was not closed by the drop");
        });
    }

    fn tempfile_in_tmp() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("event-fd-test-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn accept_waiting_at_the_connection_limit_wakes_on_close_and_times_out() {
        common::run(async {
            let server = event::ListenOptions::new()
                .max_connections(1)
                .listen_on(event::SocketAddress::localhost(0))
                .unwrap();
            let addr = server.local_address();
            let (_client, held) = common::join(Socket::connect(addr), server.accept()).await;
            let _held = held.unwrap();
            // At the limit: a timed accept gives up in time even with a client in the backlog.
            let _waiting_client = Socket::connect(addr).await.unwrap();
            let err = server
                .accept()
                .timeout(Duration::from_millis(30))
                .await
                .unwrap_err();
            assert!(err.is_timeout(), "{err:?}");
            // And close() ends an accept that waits for a place.
            let closer = server.clone();
            let pending = event::spawn(async move { server.accept().await.map(|_| ()) });
            event::sleep(Duration::from_millis(10)).await;
            closer.close();
            assert!(matches!(pending.await.unwrap(), Err(SocketError::Closed)));
        });
    }

    #[test]
    fn at_limit_close_mode_closes_new_connections_at_once() {
        common::run(async {
            let server = event::ListenOptions::new()
                .max_connections(1)
                .at_limit(event::AtLimit::Close)
                .listen_on(event::SocketAddress::localhost(0))
                .unwrap();
            let addr = server.local_address();
            let (_first, held) = common::join(Socket::connect(addr), server.accept()).await;
            let held = held.unwrap();
            // A second client is accepted and closed by the listener while the first is open.
            let second = Socket::connect(addr).await.unwrap();
            let acceptor = event::spawn(async move {
                let next = server.accept().await.map(|_| ());
                (server, next)
            });
            let err = second
                .read(10)
                .timeout(Duration::from_secs(10))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    SocketError::ConnectionClosed | SocketError::Read { .. }
                ),
                "{err:?}"
            );
            // Once the first leaves, the next client is served.
            drop(held);
            let _third = Socket::connect(addr).await.unwrap();
            let (_server, next) = acceptor.await.unwrap();
            next.unwrap();
        });
    }
}

mod accept_from_two_tasks {
    //! Two tasks accepting from clones of one `ServerSocket` both wait on the listener's one read
    //! waiter. Whichever of them goes away (its task cancelled, its accept dropped), the other must
    //! still be woken by the next connection.

    use crate::common;

    use std::time::Duration;

    use event::{ServerSocket, Socket};

    /// How long the surviving accept may take once a client connected (generous: it is a hang
    /// check, a working loop takes microseconds).
    const SURVIVOR_BOUND: Duration = Duration::from_secs(5);

    fn accept_task(server: ServerSocket) -> event::JoinHandle<Option<Socket>> {
        event::spawn(async move { server.accept().await.ok() })
    }

    /// Lets the spawned tasks run until they wait on the listener.
    async fn settle() {
        event::sleep(Duration::from_millis(20)).await;
    }

    async fn connect_and_expect_survivor(
        server: &ServerSocket,
        survivor: event::JoinHandle<Option<Socket>>,
    ) {
        let _client = Socket::connect(server.local_address()).await.unwrap();
        let accepted = event::timeout(SURVIVOR_BOUND, survivor)
            .await
            .expect("the surviving accept was never woken by the connection")
            .unwrap();
        assert!(accepted.is_some(), "the surviving accept failed");
    }

    #[test]
    fn the_first_waiter_cancelled_leaves_the_second_woken() {
        common::run(async {
            let server = common::listen_local();
            let first = accept_task(server.clone());
            settle().await;
            let second = accept_task(server.clone());
            settle().await;
            assert_eq!(first.cancel().await.flatten().map(drop), None);
            connect_and_expect_survivor(&server, second).await;
        });
    }

    #[test]
    fn the_second_waiter_cancelled_leaves_the_first_woken() {
        common::run(async {
            let server = common::listen_local();
            let first = accept_task(server.clone());
            settle().await;
            let second = accept_task(server.clone());
            settle().await;
            assert_eq!(second.cancel().await.flatten().map(drop), None);
            connect_and_expect_survivor(&server, first).await;
        });
    }

    #[test]
    fn a_woken_waiter_dropped_before_it_looks_again_leaves_the_other_woken() {
        // A waits; a connection wakes A; before A runs, B takes the connection and waits in turn;
        // then A's accept is dropped without being polled again. B must still hear of the next.
        common::run(async {
            let server = common::listen_local();
            let stop_a = std::rc::Rc::new(std::cell::Cell::new(false));
            let a = {
                let (server, stop_a) = (server.clone(), stop_a.clone());
                event::spawn(async move {
                    let mut accept = std::pin::pin!(server.accept());
                    // Polls the accept until told to stop, then drops it unpolled.
                    std::future::poll_fn(|cx| {
                        if stop_a.get() {
                            return std::task::Poll::Ready(None);
                        }
                        accept.as_mut().poll(cx).map(|r| r.ok())
                    })
                    .await
                })
            };
            settle().await;
            let b = {
                let (server, stop_a) = (server.clone(), stop_a.clone());
                event::spawn(async move {
                    // Woken with A by the first connection (B's waker is the one in front, so B
                    // runs first): B takes it, tells A to stop, and waits for the next one, on
                    // the waiter A still counts as its own.
                    let first = server.accept().await.ok()?;
                    stop_a.set(true);
                    let second = server.accept().await.ok()?;
                    Some((first, second))
                })
            };
            settle().await;
            let _c1 = Socket::connect(server.local_address()).await.unwrap();
            settle().await;
            let _c2 = Socket::connect(server.local_address()).await.unwrap();
            let got = event::timeout(SURVIVOR_BOUND, b)
                .await
                .expect("B's second accept was never woken")
                .unwrap();
            assert!(got.is_some());
            let _ = a.cancel().await;
        });
    }

    #[test]
    fn acceptors_left_waiting_after_cancels_do_not_spin() {
        // Three acceptors share the waiter, one is cancelled, and accepts with short timeouts come
        // and go in the test's own task (each timeout is a cancel, which wakes the others to look
        // again): once they stop, the loop must go quiet, and the two left still accept.
        common::run(async {
            let server = common::listen_local();
            let mut waiting: Vec<_> = (0..3).map(|_| accept_task(server.clone())).collect();
            settle().await;
            let first = waiting.remove(0);
            assert_eq!(first.cancel().await.flatten().map(drop), None);
            for _ in 0..5 {
                let r = server.accept().timeout(Duration::from_millis(10)).await;
                assert!(r.unwrap_err().is_timeout());
            }
            settle().await;
            let cpu = common::sys::thread_cpu_time();
            event::sleep(Duration::from_millis(1000)).await;
            let used = common::sys::thread_cpu_time() - cpu;
            assert!(
                used < Duration::from_millis(200),
                "two acceptors waiting used {used:?} of CPU in 1 s"
            );
            // And they still accept: two clients, one each.
            let _c1 = Socket::connect(server.local_address()).await.unwrap();
            let _c2 = Socket::connect(server.local_address()).await.unwrap();
            for survivor in waiting {
                let accepted = event::timeout(SURVIVOR_BOUND, survivor)
                    .await
                    .expect("an acceptor left waiting was never woken")
                    .unwrap();
                assert!(accepted.is_some());
            }
        });
    }
}

mod per_core {
    use crate::common;

    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use event::{
        JoinError, ListenOptions, PerCore, ServerSocket, Shutdown, ShutdownTrigger, SocketAddress,
    };

    /// Serves until `trigger` fires: each connection gets one byte, the index of its loop.
    async fn serve_index(server: ServerSocket, index: usize, trigger: ShutdownTrigger) -> usize {
        let shutdown = Shutdown::new();
        shutdown.close_on_trigger(&server);
        shutdown.trigger_on(&trigger);
        let mut conns = server.connections();
        let mut served = 0;
        while let Some(Ok(client)) = conns.next().await {
            served += 1;
            shutdown.spawn(async move {
                let _ = client.write(&[index as u8]).await;
            });
        }
        shutdown.drain(Duration::from_secs(5)).await;
        served
    }

    /// Starts `threads` loops serving `serve_index` on an ephemeral port; returns the port (read
    /// back from a probe connection), the trigger, and the thread running them.
    fn start(
        threads: usize,
    ) -> (
        std::net::SocketAddr,
        ShutdownTrigger,
        std::thread::JoinHandle<Vec<Result<usize, JoinError>>>,
    ) {
        // Reserve a port first (port 0 would work too, but the test needs to know it).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddress::localhost(port);
        let trigger = ShutdownTrigger::new();
        let t = trigger.clone();
        let runner = std::thread::spawn(move || {
            PerCore::new()
                .threads(threads)
                .listen(&ListenOptions::new(), addr, move |server, ctx| {
                    serve_index(server, ctx.index(), t.clone())
                })
                .unwrap()
        });
        let addr = addr.to_std();
        // Wait until the loops accept.
        for _ in 0..500 {
            if TcpStream::connect(addr).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (addr, trigger, runner)
    }

    fn loop_of(addr: std::net::SocketAddr) -> u8 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8];
        s.read_exact(&mut b).unwrap();
        b[0]
    }

    #[test]
    fn connections_land_on_more_than_one_loop_and_one_trigger_stops_all() {
        let (addr, trigger, runner) = start(2);
        let seen: HashSet<u8> = (0..64).map(|_| loop_of(addr)).collect();
        assert_eq!(
            seen,
            HashSet::from([0, 1]),
            "SO_REUSEPORT spread connections over both loops"
        );
        trigger.fire();
        let results = runner.join().unwrap();
        assert_eq!(results.len(), 2);
        let served: usize = results.into_iter().map(Result::unwrap).sum();
        assert!(served >= 64, "served {served}");
        // Both listeners are closed: the port refuses connections.
        assert!(TcpStream::connect(addr).is_err());
    }

    #[test]
    fn a_panicking_loop_does_not_stop_the_others() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddress::localhost(port);
        let trigger = ShutdownTrigger::new();
        let t = trigger.clone();
        let runner = std::thread::spawn(move || {
            PerCore::new()
                .threads(2)
                .listen(&ListenOptions::new(), addr, move |server, ctx| {
                    let t = t.clone();
                    async move {
                        if ctx.index() == 0 {
                            drop(server);
                            panic!("loop 0 gives up");
                        }
                        serve_index(server, ctx.index(), t).await
                    }
                })
                .unwrap()
        });
        // Loop 1 keeps serving every connection (loop 0's listener is gone, so all land on 1).
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..10 {
            let mut ok = false;
            for _ in 0..100 {
                if let Ok(mut s) = TcpStream::connect(addr.to_std()) {
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut b = [0u8];
                    if s.read_exact(&mut b).is_ok() {
                        assert_eq!(b[0], 1);
                        ok = true;
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(ok, "loop 1 stopped serving");
        }
        trigger.fire();
        let results = runner.join().unwrap();
        assert!(
            matches!(&results[0], Err(JoinError::Panicked(m)) if m == "loop 0 gives up"),
            "{results:?}"
        );
        assert!(results[1].is_ok());
    }

    #[test]
    fn a_loop_can_spawn_send_work_on_a_sibling() {
        let done = ShutdownTrigger::new();
        let results = PerCore::new().threads(2).run(move |ctx| {
            let done = done.clone();
            async move {
                if ctx.index() != 0 {
                    // Stay up until loop 0 has its answer.
                    done.fired().await;
                    return None;
                }
                let sibling = &ctx.loops()[1];
                let name = sibling
                    .spawn(async { std::thread::current().name().map(String::from) })
                    .await
                    .unwrap();
                done.fire();
                Some(name)
            }
        });
        assert_eq!(
            results[0].clone().unwrap(),
            Some(Some("event-loop-1".to_string()))
        );
        assert_eq!(results[1].clone().unwrap(), None);
    }

    #[test]
    fn echo_example_with_threads_serves_on_several_loops_and_stops_on_sigterm() {
        let mut echo = common::EchoProcess::start(&[], &["--threads", "2"]);
        assert!(echo.banner.contains("loops: 2"), "{}", echo.banner);
        for i in 0..20u8 {
            let mut s = TcpStream::connect(echo.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&[i; 100]).unwrap();
            let mut back = [0u8; 100];
            s.read_exact(&mut back).unwrap();
            assert_eq!(back, [i; 100]);
        }
        echo.signal(libc::SIGTERM);
        let status = echo.child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
    }

    #[test]
    fn one_loop_runs_on_the_calling_thread_and_still_reports_a_panic() {
        let caller = std::thread::current().id();
        let results = PerCore::new().threads(1).run(move |ctx| async move {
            (ctx.index(), ctx.loops().len(), std::thread::current().id())
        });
        let (index, loops, thread) = results.into_iter().next().unwrap().unwrap();
        assert_eq!((index, loops), (0, 1));
        assert_eq!(
            thread, caller,
            "one loop runs on the thread that called run"
        );

        let results = PerCore::new().threads(1).run(|ctx| async move {
            if ctx.index() == 0 {
                panic!("boom in the only loop");
            }
        });
        match &results[..] {
            [Err(JoinError::Panicked(msg))] => assert!(msg.contains("boom"), "{msg}"),
            other => panic!("expected one Panicked, got {other:?}"),
        }

        // A panic while making the loop's future is the loop's panic too, not the caller's.
        let results = PerCore::new().threads(1).run(|ctx| {
            if ctx.index() == 0 {
                panic!("boom while making the future");
            }
            async {}
        });
        match &results[..] {
            [Err(JoinError::Panicked(msg))] => assert!(msg.contains("making"), "{msg}"),
            other => panic!("expected one Panicked, got {other:?}"),
        }
    }

    #[test]
    fn one_loop_listens_and_serves_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let trigger = ShutdownTrigger::new();
        let stop = trigger.clone();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let client = std::thread::spawn(move || {
            let port: u16 = port_rx.recv().unwrap();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [9u8; 1];
            s.read_exact(&mut b).unwrap();
            stop.fire();
            b[0]
        });
        let results = PerCore::new()
            .threads(1)
            .listen(
                &ListenOptions::new(),
                SocketAddress::localhost(0),
                move |server, ctx| {
                    assert_eq!(
                        std::thread::current().id(),
                        caller,
                        "serve runs on the caller"
                    );
                    port_tx.send(server.local_port()).unwrap();
                    serve_index(server, ctx.index(), trigger.clone())
                },
            )
            .unwrap();
        assert_eq!(results.into_iter().next().unwrap().unwrap(), 1);
        assert_eq!(client.join().unwrap(), 0, "the byte is the loop's index");
    }

    /// A loop cannot run inside another on one thread: called from a running loop, one loop gets a
    /// thread of its own, as several do.
    #[test]
    fn one_loop_started_from_inside_a_running_loop_gets_its_own_thread() {
        let results = event::run(async {
            let caller = std::thread::current().id();
            PerCore::new()
                .threads(1)
                .run(move |ctx| async move { (ctx.index(), std::thread::current().id() != caller) })
        });
        assert!(
            matches!(&results[..], [Ok((0, true))]),
            "threads(1) inside a running loop: {results:?}"
        );

        let results = event::run(async {
            PerCore::new()
                .threads(1)
                .listen(
                    &ListenOptions::new(),
                    SocketAddress::localhost(0),
                    |server, ctx| async move {
                        server.close();
                        ctx.index()
                    },
                )
                .unwrap()
        });
        assert!(matches!(&results[..], [Ok(0)]), "listen: {results:?}");

        // A PerCore loop that itself starts one loop (a supervisor, say).
        let outer = PerCore::new().threads(2).run(|_ctx| async {
            let one = PerCore::new()
                .threads(1)
                .run(|ctx| async move { ctx.index() });
            format!("{one:?}")
        });
        for r in outer {
            assert_eq!(r.unwrap(), "[Ok(0)]");
        }
    }
}

mod per_core_refuses_a_port_in_use {
    //! `PerCore::listen` with several loops refuses a port another socket already listens on
    //! (`SO_REUSEPORT` alone would silently join it and take part of its connections), unless the
    //! caller opts in with `share_port(true)`.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use event::{ListenOptions, PerCore, ServerSocket, SocketAddress, SocketError};

    /// Runs `per_core.listen` on `addr` with loops that close their listener at once; returns the
    /// result and how many loops ran.
    fn listen(per_core: PerCore, addr: SocketAddress) -> (Result<usize, SocketError>, usize) {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let result = per_core.listen(
            &ListenOptions::new(),
            addr,
            move |server: ServerSocket, _| {
                r.fetch_add(1, Ordering::SeqCst);
                async move { server.close() }
            },
        );
        (result.map(|loops| loops.len()), ran.load(Ordering::SeqCst))
    }

    /// `listen` succeeded and every one of its loops ran: how many.
    fn started(per_core: PerCore, addr: SocketAddress) -> usize {
        match listen(per_core, addr) {
            (Ok(loops), ran) if loops == ran => ran,
            other => panic!("{addr}: expected every loop to run, got {other:?}"),
        }
    }

    fn assert_in_use(result: Result<usize, SocketError>, addr: SocketAddress) {
        match result {
            Err(e @ SocketError::Bind { .. }) => {
                assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e}");
                assert!(e.to_string().starts_with(&format!("bind {addr}: ")), "{e}");
            }
            other => panic!("expected bind: address in use, got {other:?}"),
        }
    }

    #[test]
    fn several_loops_refuse_a_port_a_plain_listener_holds() {
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = SocketAddress::from(other.local_addr().unwrap());
        let (result, ran) = listen(PerCore::new().threads(2), addr);
        assert_in_use(result, addr);
        assert_eq!(ran, 0, "no loop starts");
    }

    #[test]
    fn several_loops_refuse_a_port_another_reuse_port_listener_holds() {
        // What a second `echo --threads 2` on the same port meets: the first one's listeners.
        let first = ListenOptions::new()
            .reuse_port(true)
            .listen_on(SocketAddress::localhost(0))
            .unwrap();
        let addr = first.local_address();
        let (result, ran) = listen(PerCore::new().threads(2), addr);
        assert_in_use(result, addr);
        assert_eq!(ran, 0);
        // One loop says the same, as it always did.
        let (result, _) = listen(PerCore::new().threads(1), addr);
        assert_in_use(result, addr);
    }

    #[test]
    fn share_port_joins_a_reuse_port_listener_on_purpose() {
        let first = ListenOptions::new()
            .reuse_port(true)
            .listen_on(SocketAddress::localhost(0))
            .unwrap();
        let addr = first.local_address();
        assert_eq!(started(PerCore::new().threads(2).share_port(true), addr), 2);
        // With one loop too: its listener gets SO_REUSEPORT.
        assert_eq!(started(PerCore::new().threads(1).share_port(true), addr), 1);
    }

    #[test]
    fn several_loops_take_a_free_port_and_a_port_left_free() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddress::localhost(port);
        assert_eq!(started(PerCore::new().threads(2), addr), 2);
        // Its listeners are closed: the port can be taken again.
        assert_eq!(started(PerCore::new().threads(2), addr), 2);
        assert_eq!(
            started(PerCore::new().threads(2), SocketAddress::localhost(0)),
            2
        );
    }
}

mod tcp_connect {
    use crate::common;

    use std::time::Duration;

    use event::{Socket, SocketAddress, SocketError};

    #[test]
    fn connect_to_a_closed_port_fails_at_connect() {
        common::run(async {
            // Reserve a port, then close it, so nothing listens there.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let err = Socket::connect(SocketAddress::localhost(port))
                .await
                .unwrap_err();
            match &err {
                SocketError::Connect { addr, source } => {
                    assert_eq!(addr.port(), port);
                    assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
                }
                other => panic!("expected Connect, got {other:?}"),
            }
            assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
            assert!(
                err.to_string()
                    .starts_with(&format!("connect 127.0.0.1:{port}: "))
            );
        });
    }

    #[test]
    fn connect_by_host_name_resolves_off_the_loop() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let client = Socket::connect(format!("localhost:{}", addr.port()))
                .await
                .unwrap();
            client.write(b"named").await.unwrap();
            assert_eq!(common::read_exact(&client, 5).await.unwrap(), b"named");
            // Host form with a tuple, too.
            Socket::connect(("127.0.0.1", addr.port())).await.unwrap();
        });
    }

    #[test]
    fn connect_with_a_bad_target_is_invalid_address() {
        common::run(async {
            let err = Socket::connect("no-port-here").await.unwrap_err();
            assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err:?}");
        });
    }

    #[test]
    fn connect_timeout_succeeds_within_the_limit_and_reports_the_peer() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let client = Socket::connect_timeout(addr, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(client.peer_address(), addr);
            assert!(client.local_address().unwrap().ip().is_loopback());
            client.set_nodelay(true).unwrap();
        });
    }

    #[test]
    fn connect_without_a_loop_is_a_clear_error() {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(Socket::connect(SocketAddress::localhost(1)));
        match std::future::Future::poll(fut.as_mut(), &mut cx) {
            std::task::Poll::Ready(Err(SocketError::NoEventLoop)) => {}
            other => panic!("expected NoEventLoop, got {other:?}"),
        }
    }
}

mod tcp_address {
    use std::net::SocketAddr;

    use event::{SocketAddress, SocketError};

    #[test]
    fn constructors_and_conversions_round_trip() {
        let v4 = SocketAddress::ipv4("127.0.0.1", 8080).unwrap();
        let v6 = SocketAddress::ipv6("::1", 9090).unwrap();
        assert_eq!(
            SocketAddr::from(v4),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(SocketAddress::from(SocketAddr::from(v6)), v6);
        assert_eq!(SocketAddress::ipv6("[::1]", 9090).unwrap(), v6);
        assert_eq!(SocketAddress::any_ipv4(80).to_string(), "0.0.0.0:80");
        assert_eq!("[::1]:9090".parse::<SocketAddress>().unwrap(), v6);
        assert!(v6.is_ipv6() && !v4.is_ipv6());
        assert_eq!(v4.port(), 8080);
    }

    #[test]
    fn malformed_text_is_invalid_address_naming_the_input() {
        for (text, port) in [
            ("256.0.0.1", 1),
            ("1.2.3", 1),
            ("", 1),
            ("localhost", 1),
            ("::1", 1),
        ] {
            match SocketAddress::ipv4(text, port) {
                Err(SocketError::InvalidAddress { input, .. }) => assert_eq!(input, text),
                other => panic!("{text:?}: expected InvalidAddress, got {other:?}"),
            }
        }
        for text in ["::g", "1.2.3.4", "[::1", ""] {
            assert!(matches!(
                SocketAddress::ipv6(text, 1),
                Err(SocketError::InvalidAddress { .. })
            ));
        }
        for text in [
            "127.0.0.1",
            "127.0.0.1:99999",
            "::1:80",
            "host:80",
            ":80",
            "[::1]:x",
        ] {
            let err = text.parse::<SocketAddress>().unwrap_err();
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
    }
}

mod address_fuzz {
    //! A bounded fuzz of address parsing: random texts from an alphabet rich in the characters
    //! addresses use. Properties: parsing never panics; it accepts exactly what the standard
    //! library's `SocketAddr` parser accepts; accepted addresses print and parse back to
    //! themselves; rejected ones are `InvalidAddress` naming the input. Runs for a fixed number of
    //! cases (set `EVENT_FUZZ_CASES` to run longer).

    use std::net::SocketAddr;

    use event::{SocketAddress, SocketError};

    const ALPHABET: &[u8] = b"0123456789abcdefABCDEF.:[]%-x /\0\xff";

    #[test]
    fn address_parsing_agrees_with_std_and_never_panics() {
        let cases: u64 = std::env::var("EVENT_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut accepted = 0;
        for _ in 0..cases {
            let len = (next() % 48) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            // Seed some structure in: half of the cases are mutated valid addresses.
            let text = if next() % 2 == 0 {
                mutate_valid(&text, next())
            } else {
                text
            };
            let ours = text.parse::<SocketAddress>();
            let std = text.parse::<SocketAddr>();
            match (&ours, &std) {
                (Ok(a), Ok(b)) => {
                    accepted += 1;
                    assert_eq!(a.to_std(), *b, "{text:?}");
                    assert_eq!(a.to_string().parse::<SocketAddress>().unwrap(), *a);
                }
                (Err(SocketError::InvalidAddress { input, .. }), Err(_)) => {
                    assert_eq!(input, &text)
                }
                _ => panic!("{text:?}: ours {ours:?}, std {std:?}"),
            }
            // The typed constructors never panic either.
            let _ = SocketAddress::ipv4(&text, 1);
            let _ = SocketAddress::ipv6(&text, 1);
        }
        assert!(accepted > 0, "the generator produced no valid address");
    }

    fn mutate_valid(noise: &str, r: u64) -> String {
        let bases = [
            "127.0.0.1:8080",
            "[::1]:80",
            "0.0.0.0:0",
            "[fe80::1%2]:443",
            "255.255.255.255:65535",
        ];
        let base = bases[(r % bases.len() as u64) as usize];
        let cut = (r >> 8) as usize % (base.len() + 1);
        match (r >> 16) % 4 {
            0 => base.to_string(),
            1 => format!("{}{}", &base[..cut], noise),
            2 => format!(
                "{}{}",
                &base[..cut],
                &base[cut.min(base.len())..].replacen(':', "", 1)
            ),
            _ => format!("{noise}{base}"),
        }
    }
}

/// Every accepted connection knows its own peer: on io_uring the multishot accept's one address
/// buffer is overwritten at each connection, so only the last of a batch may take its address
/// from there. Bursts (many connections accepted in one batch), one-at-a-time accepts and IPv6
/// must each name the client's own address, as `accept4` does on epoll.
mod tcp_accept_peer_addresses {
    use crate::common;

    use std::collections::BTreeSet;
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    use event::{ServerSocket, Socket, SocketAddress};

    /// Connects `n` blocking clients to `addr` at once, from a thread, and returns them (kept
    /// open) once all are connected, letting the loop run meanwhile. The server accepts none
    /// before: they wait in the backlog, so one multishot accept takes them in a batch.
    async fn connect_all(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
        let clients =
            std::thread::spawn(move || (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect());
        while !clients.is_finished() {
            event::sleep(Duration::from_millis(5)).await;
        }
        clients.join().unwrap()
    }

    /// Accepts `n` connections: their peer addresses, and the sockets (kept open, so no port is
    /// reused).
    async fn accept_peers(server: &ServerSocket, n: usize) -> (BTreeSet<SocketAddr>, Vec<Socket>) {
        let mut seen = BTreeSet::new();
        let mut accepted = Vec::new();
        for _ in 0..n {
            let peer = server.accept().await.unwrap();
            seen.insert(peer.peer_address().to_std());
            accepted.push(peer);
        }
        (seen, accepted)
    }

    /// The clients' own addresses, as a server names them (`mapped`: an IPv4 client of an IPv6
    /// socket is named by its v4-mapped address, on both drivers).
    fn locals(clients: &[TcpStream], mapped: bool) -> BTreeSet<SocketAddr> {
        let named = |addr: SocketAddr| match addr {
            SocketAddr::V4(v4) if mapped => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            other => other,
        };
        clients
            .iter()
            .map(|c| named(c.local_addr().unwrap()))
            .collect()
    }

    /// A burst of `n` clients on a listener at `listen`: each accepted connection names its
    /// own client (a repeated or wrong address makes the sets differ).
    fn burst_names_each_client(listen: SocketAddress, n: usize) {
        common::run(async move {
            let server = Socket::listen_on(listen).unwrap();
            let clients = connect_all(server.local_address().to_std(), n).await;
            let (seen, _accepted) = accept_peers(&server, n).await;
            assert_eq!(seen, locals(&clients, false));
        });
    }

    #[test]
    fn a_burst_of_connections_names_each_peer() {
        burst_names_each_client(SocketAddress::localhost(0), 64);
    }

    #[test]
    fn a_burst_over_ipv6_names_each_peer() {
        burst_names_each_client(SocketAddress::ipv6("::1", 0).unwrap(), 16);
    }

    #[test]
    fn two_listeners_on_one_loop_name_their_own_peers() {
        // Both accepts are armed by one poll, so their connections come in the same batches:
        // each listener's buffer must name its own connections only.
        common::run(async {
            let n = 32;
            let a = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            let b = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            let (ca, cb) = common::join(
                connect_all(a.local_address().to_std(), n),
                connect_all(b.local_address().to_std(), n),
            )
            .await;
            let ((seen_a, _a), (seen_b, _b)) =
                common::join(accept_peers(&a, n), accept_peers(&b, n)).await;
            assert_eq!(seen_a, locals(&ca, false), "the first listener's peers");
            assert_eq!(seen_b, locals(&cb, false), "the second listener's peers");
        });
    }

    #[test]
    fn a_burst_of_ipv4_clients_on_a_dual_stack_listener_names_each_peer() {
        common::run(async {
            let n = 32;
            let listen = SocketAddress::ipv6("::", 0).unwrap();
            let Ok(server) = event::ListenOptions::new()
                .ipv6_only(false)
                .listen_on(listen)
            else {
                return; // no IPv6 here
            };
            let port = server.local_address().to_std().port();
            let clients = connect_all(SocketAddr::from(([127, 0, 0, 1], port)), n).await;
            let (seen, _accepted) = accept_peers(&server, n).await;
            assert_eq!(seen, locals(&clients, true));
        });
    }

    #[test]
    fn connections_one_at_a_time_name_their_peers() {
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address();
            for _ in 0..20 {
                let (client, accepted) = common::join(Socket::connect(addr), server.accept()).await;
                let (client, accepted) = (client.unwrap(), accepted.unwrap());
                assert_eq!(accepted.peer_address(), client.local_address().unwrap());
            }
        });
    }

    #[test]
    fn accepts_between_connects_from_a_thread_name_their_peers() {
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address().to_std();
            // Clients arrive while the accepting task waits: each lands in a batch of its own or
            // with the next, depending on timing; each must still be named right.
            let clients = std::thread::spawn(move || {
                (0..40)
                    .map(|i| {
                        if i % 4 == 0 {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        TcpStream::connect(addr).unwrap()
                    })
                    .collect::<Vec<_>>()
            });
            let (seen, _accepted) = accept_peers(&server, 40).await;
            assert_eq!(seen, locals(&clients.join().unwrap(), false));
        });
    }
}
