//! `ListenOptions::nodelay(true)` sets `TCP_NODELAY` on every accepted connection before its
//! first write (on io_uring as a ring command that travels with the loop's next wait), and
//! only then: a listener without it leaves the kernel's default (off).
mod common;

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
    //! A listener's `ListenOptions::nodelay` is the default of each connection it accepts, not a
    //! value forced on it later: a connection's own `set_nodelay(false)`, made as soon as `accept`
    //! returns, stays in force once the loop has turned (on io_uring the listener's option travels
    //! as a ring command, which must not run after the socket's own setting and undo it).
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
                // Turns of the loop: whatever the listener queued has run by the end of the trip.
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
    //! the loop has waited once (on io_uring the listener's ring command travels with the loop's
    //! next wait, as its docs say; on epoll it is on when `accept` returns), and a connection
    //! accepted and dropped at once leaves no option behind for the next socket to get the
    //! descriptor number.
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
                // A socket made in the same turn, then one after the loop has waited (the dropped
                // connection's number free again by then, so likely this one's).
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
    //! A connection from a `ListenOptions::nodelay` listener that is accepted, written and dropped
    //! without the loop waiting in between (on io_uring its `SetSockOpt`, its send and its `Close`
    //! all queued in that one turn, in that order) still delivers its bytes whole, then end of
    //! stream, and the listener goes on setting the option on the connections after it.
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
    //! `ListenOptions::nodelay` holds wherever the listener accepts: a listener served by one loop
    //! and then by another (each loop's driver sets the option for the connections it accepts),
    //! every loop of `PerCore` (each has its own listener, made from the same options), and an
    //! IPv6 listener (bound to the IPv4-mapped loopback, so traffic stays on 127.0.0.1).
    use super::{common, nodelay};

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use event::{EventLoop, ListenOptions, PerCore, ServerSocket, Socket};

    const LIMIT: Duration = Duration::from_secs(5);

    /// Accepts one connection on the running loop, answers its byte and reports the option (read
    /// once the answer has gone out, and at once after accept on epoll).
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
                let on = event::timeout(Duration::from_millis(500), accept_answer(&server)).await;
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
