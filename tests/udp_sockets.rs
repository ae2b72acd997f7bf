//! UDP sockets: binding and options, IPv6 and multicast, many sockets on a loop, a socket
//! per core, and real peers (std, Python). One module per behaviour (each was its own test
//! binary); `udp.rs` has the datagrams' own behaviour.

mod common;

mod udp_bind_and_options {
    //! UDP: binding in every form `listen_on` takes, port 0 with the chosen port readable, a bind
    //! before the loop runs, an address in use, and the socket options.

    use crate::common;

    use std::future::Future;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use event::{SocketAddress, SocketError, UdpOptions, UdpSocket};

    #[test]
    fn every_address_form_binds_and_port_zero_is_readable() {
        let text = UdpSocket::bind("127.0.0.1:0").unwrap();
        let std: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let from_std = UdpSocket::bind(std).unwrap();
        let tuple = UdpSocket::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).unwrap();
        let ours = UdpSocket::bind(SocketAddress::localhost(0)).unwrap();
        let named = UdpSocket::bind(("localhost", 0)).unwrap();
        for s in [&text, &from_std, &tuple, &ours, &named] {
            assert_ne!(s.local_address().port(), 0);
            assert!(s.local_address().ip().is_loopback());
        }
        let err = UdpSocket::bind("127.0.0.1").unwrap_err();
        assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err}");
    }

    #[test]
    fn a_port_in_use_is_refused_with_the_address() {
        let first = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = first.local_address();
        let err = UdpSocket::bind(addr).unwrap_err();
        assert!(matches!(err, SocketError::Bind { .. }), "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        // Sockets that all ask for SO_REUSEPORT share it.
        let a = UdpOptions::new()
            .reuse_port(true)
            .bind("127.0.0.1:0")
            .unwrap();
        UdpOptions::new()
            .reuse_port(true)
            .bind(a.local_address())
            .unwrap();
    }

    #[test]
    fn a_socket_bound_before_the_loop_runs_works_inside_it() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        common::run(async {
            a.send_to(b"early", b.local_address()).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"early");
        });
    }

    #[test]
    fn outside_a_loop_an_operation_says_no_loop_runs() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut f = std::pin::pin!(a.send_to(b"x", a.local_address()));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Err(SocketError::NoEventLoop)) => {}
            other => panic!("expected NoEventLoop, got {other:?}"),
        }
    }

    #[test]
    fn options_are_set_and_read_back() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(!s.broadcast().unwrap());
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
        s.set_ttl(42).unwrap();
        assert_eq!(s.ttl().unwrap(), 42);
        s.set_multicast_ttl_v4(3).unwrap();
        s.set_multicast_loop_v4(false).unwrap();
        let sock = socket2::SockRef::from(&s);
        assert_eq!(sock.multicast_ttl_v4().unwrap(), 3);
        assert!(!sock.multicast_loop_v4().unwrap());
        let b = UdpOptions::new()
            .broadcast(true)
            .bind("127.0.0.1:0")
            .unwrap();
        assert!(b.broadcast().unwrap());
        assert!(format!("{s:?}").contains("UdpSocket"));
    }
}

mod udp_ipv6_dual_stack {
    //! UDP over IPv6: a socket on [::1], and a dual-stack socket on [::] (`ipv6_only(false)`) that
    //! also receives IPv4 datagrams (from IPv4-mapped addresses); `ipv6_only(true)` refuses them.

    use crate::common;

    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use event::{UdpOptions, UdpSocket};

    #[test]
    fn ipv6_datagrams_round_trip_on_loopback() {
        common::run(async {
            let Ok(a) = UdpSocket::bind("[::1]:0") else {
                println!("note: skipped, no IPv6 loopback here");
                return;
            };
            let b = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
            assert!(a.local_address().is_ipv6());
            a.send_to(b"over v6", b.local_address()).await.unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"over v6"[..], a.local_address()));
            a.set_ttl(7).unwrap();
            assert_eq!(a.ttl().unwrap(), 7);
        });
    }

    #[test]
    fn a_dual_stack_socket_receives_ipv4_and_an_ipv6_only_one_does_not() {
        common::run(async {
            let Ok(dual) = UdpOptions::new()
                .ipv6_only(false)
                .bind((Ipv6Addr::UNSPECIFIED, 0))
            else {
                println!("note: skipped, no IPv6 here");
                return;
            };
            assert!(!dual.ipv6_only().unwrap());
            let port = dual.local_address().port();
            let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
            v4.send_to(b"from v4", (Ipv4Addr::LOCALHOST, port))
                .await
                .unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = dual.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"from v4");
            let mapped = Ipv4Addr::LOCALHOST.to_ipv6_mapped();
            assert_eq!(from.ip(), IpAddr::V6(mapped));
            assert_eq!(from.port(), v4.local_address().port());
            // And back, to the mapped address.
            dual.send_to(b"reply", from).await.unwrap();
            let (n, _) = v4.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"reply");
            // A plain IPv4 destination works too (sent to its IPv4-mapped form).
            dual.send_to(b"plain v4", v4.local_address()).await.unwrap();
            let (n, from) = v4.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from.port()), (&b"plain v4"[..], port));

            let only = UdpOptions::new()
                .ipv6_only(true)
                .bind((Ipv6Addr::UNSPECIFIED, 0))
                .unwrap();
            assert!(only.ipv6_only().unwrap());
            let port = only.local_address().port();
            v4.send_to(b"lost", (Ipv4Addr::LOCALHOST, port))
                .await
                .unwrap();
            let r = only
                .recv_from(&mut buf)
                .timeout(Duration::from_millis(100))
                .await;
            assert!(
                r.unwrap_err().is_timeout(),
                "an IPv6-only socket gets no IPv4"
            );
        });
    }
}

mod udp_multicast {
    //! UDP: joining a multicast group on loopback and receiving what is sent to it (IPv4 and
    //! IPv6), then leaving. Skipped, with a note, where the sandbox has no multicast route.

    use crate::common;

    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use event::{UdpOptions, UdpSocket};

    #[test]
    fn a_member_of_an_ipv4_group_receives_what_is_sent_to_it() {
        common::run(async {
            let group = Ipv4Addr::new(239, 255, 42, 99);
            let member = UdpOptions::new()
                .reuse_address(true)
                .bind((Ipv4Addr::UNSPECIFIED, 0))
                .unwrap();
            let port = member.local_address().port();
            if let Err(e) = member.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
                println!("note: skipped, cannot join {group} on loopback: {e}");
                return;
            }
            let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.set_multicast_loop_v4(true).unwrap();
            sender.set_multicast_ttl_v4(1).unwrap();
            // Send through the loopback interface (IP_MULTICAST_IF by source address).
            socket2::SockRef::from(&sender)
                .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
                .unwrap();
            if let Err(e) = sender.send_to(b"to the group", (group, port)).await {
                println!("note: skipped, cannot send to {group}: {e}");
                return;
            }
            let mut buf = [0u8; 64];
            match member
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(2))
                .await
            {
                Ok((n, from)) => {
                    assert_eq!(&buf[..n], b"to the group");
                    assert_eq!(from, sender.local_address());
                }
                Err(e) if e.is_timeout() => {
                    println!("note: skipped, no multicast delivery on loopback here");
                    return;
                }
                Err(e) => panic!("{e}"),
            }
            member
                .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
                .unwrap();
            let err = member
                .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
                .unwrap_err();
            assert!(
                err.raw_os_error().is_some(),
                "leaving twice is an OS error: {err}"
            );
        });
    }

    #[test]
    fn a_member_of_an_ipv6_group_receives_what_is_sent_to_it() {
        common::run(async {
            let group: Ipv6Addr = "ff02::4242".parse().unwrap();
            let Ok(member) = UdpOptions::new()
                .reuse_address(true)
                .bind((Ipv6Addr::UNSPECIFIED, 0))
            else {
                println!("note: skipped, no IPv6 here");
                return;
            };
            let port = member.local_address().port();
            // Interface 1 is loopback on Linux.
            if let Err(e) = member.join_multicast_v6(group, 1) {
                println!("note: skipped, cannot join {group} on loopback: {e}");
                return;
            }
            let sender = UdpSocket::bind("[::1]:0").unwrap();
            sender.set_multicast_loop_v6(true).unwrap();
            sender.set_multicast_hops_v6(1).unwrap();
            socket2::SockRef::from(&sender)
                .set_multicast_if_v6(1)
                .unwrap();
            let to = std::net::SocketAddrV6::new(group, port, 0, 1);
            if let Err(e) = sender.send_to(b"v6 group", to).await {
                println!("note: skipped, cannot send to {group}: {e}");
                return;
            }
            let mut buf = [0u8; 64];
            match member
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(2))
                .await
            {
                Ok((n, _)) => assert_eq!(&buf[..n], b"v6 group"),
                Err(e) if e.is_timeout() => {
                    println!("note: skipped, no IPv6 multicast delivery on loopback here");
                    return;
                }
                Err(e) => panic!("{e}"),
            }
            member.leave_multicast_v6(group, 1).unwrap();
        });
    }
}

mod udp_many_sockets {
    //! UDP: many sockets on one loop, each with its own task, all echoed by one server socket.

    use crate::common;

    use event::UdpSocket;

    const CLIENTS: usize = 200;
    const ROUNDS: usize = 5;

    #[test]
    fn many_client_sockets_each_get_their_own_echoes() {
        common::run(async {
            let server = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            let addr = server.local_address();
            let echo = event::spawn({
                let server = server.clone();
                async move {
                    let mut buf = [0u8; 2048];
                    for _ in 0..CLIENTS * ROUNDS {
                        let (n, from) = server.recv_from(&mut buf).await.unwrap();
                        server.send_to(&buf[..n], from).await.unwrap();
                    }
                }
            });
            let mut tasks = Vec::new();
            for i in 0..CLIENTS {
                tasks.push(event::spawn(async move {
                    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
                    client.connect(addr).unwrap();
                    let mut buf = [0u8; 2048];
                    for round in 0..ROUNDS {
                        let msg = format!("client {i} round {round}");
                        client.send(msg.as_bytes()).await.unwrap();
                        let n = client
                            .recv(&mut buf)
                            .timeout(std::time::Duration::from_secs(10))
                            .await
                            .unwrap();
                        assert_eq!(&buf[..n], msg.as_bytes());
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            echo.await.unwrap();
        });
    }
}

mod udp_per_core {
    //! UDP on every core: `PerCore::bind_udp` gives each loop its own `SO_REUSEPORT` socket on one
    //! port; the kernel spreads senders over them and every datagram is answered. A port another
    //! socket is bound to is refused.

    use std::time::Duration;

    use event::{PerCore, SocketError, UdpOptions};

    #[test]
    fn every_loop_serves_its_socket_on_one_port() {
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let clients = std::thread::spawn(move || {
            let port: u16 = port_rx.recv().unwrap();
            let mut answered = 0;
            for i in 0..64u32 {
                let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                c.send_to(&i.to_le_bytes(), ("127.0.0.1", port)).unwrap();
                let mut buf = [0u8; 64];
                let (n, _) = c.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..4], &i.to_le_bytes());
                assert!(n == 5, "the loop's index follows the echo");
                answered += 1;
            }
            // Stop every loop: "stop" from many senders reaches each socket of the port.
            for _ in 0..200 {
                let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let _ = c.send_to(b"stop", ("127.0.0.1", port));
            }
            answered
        });
        let results = PerCore::new()
            .threads(2)
            .bind_udp(&UdpOptions::new(), "127.0.0.1:0", move |socket, ctx| {
                let port_tx = port_tx.clone();
                async move {
                    if ctx.index() == 0 {
                        port_tx.send(socket.local_address().port()).unwrap();
                    }
                    let mut buf = [0u8; 64];
                    let mut served = 0u32;
                    loop {
                        let r = socket
                            .recv_from(&mut buf[..63])
                            .timeout(Duration::from_secs(20))
                            .await;
                        let Ok((n, from)) = r else { return served };
                        if &buf[..n] == b"stop" {
                            return served;
                        }
                        buf[n] = ctx.index() as u8;
                        socket.send_to(&buf[..n + 1], from).await.unwrap();
                        served += 1;
                    }
                }
            })
            .unwrap();
        assert_eq!(clients.join().unwrap(), 64);
        let served: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(served.iter().sum::<u32>(), 64, "{served:?}");
    }

    #[test]
    fn a_port_in_use_is_refused() {
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = PerCore::new()
            .threads(2)
            .bind_udp(&UdpOptions::new(), ("127.0.0.1", port), |_, _| async {})
            .unwrap_err();
        assert!(matches!(err, SocketError::Bind { .. }), "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    }
}

mod udp_std_peer {
    //! UDP against a real client: a blocking `std::net::UdpSocket` on another thread is the peer,
    //! both as the echo server and as the client of ours.

    use crate::common;

    use std::time::Duration;

    use event::UdpSocket;

    #[test]
    fn our_socket_talks_to_a_std_echo_server() {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = peer.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65_536];
            for _ in 0..100 {
                let (n, from) = peer.recv_from(&mut buf).unwrap();
                peer.send_to(&buf[..n], from).unwrap();
            }
        });
        common::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.connect(addr).unwrap();
            let mut buf = vec![0u8; 65_536];
            for i in 0..100usize {
                let msg: Vec<u8> = (0..i * 97).map(|j| (j ^ i) as u8).collect();
                socket.send(&msg).await.unwrap();
                let n = socket
                    .recv(&mut buf)
                    .timeout(Duration::from_secs(10))
                    .await
                    .unwrap();
                assert!(buf[..n] == msg[..], "datagram {i}");
            }
        });
        thread.join().unwrap();
    }

    #[test]
    fn a_std_client_talks_to_our_echo_server() {
        let client = common::run(async {
            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = server.local_address().to_std();
            let client = std::thread::spawn(move || {
                let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buf = [0u8; 2048];
                for i in 0..50u32 {
                    let msg = format!("std datagram {i}");
                    c.send_to(msg.as_bytes(), addr).unwrap();
                    let (n, from) = c.recv_from(&mut buf).unwrap();
                    assert_eq!(from, addr);
                    assert_eq!(&buf[..n], msg.as_bytes());
                }
            });
            let mut buf = [0u8; 2048];
            for _ in 0..50 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
            client
        });
        client.join().unwrap();
    }
}

mod udp_python_peer {
    //! UDP against another implementation: Python's socket module (`python3 -c`) as the client of
    //! our echo socket, every byte value and a 0-byte datagram included. Skipped, with a note,
    //! where python3 is missing.

    use crate::common;

    use std::time::Duration;

    use event::UdpSocket;

    const CLIENT: &str = r#"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
msgs = [bytes(range(256)), b"", b"hello from python", bytes([0xff]) * 60000]
for m in msgs:
    s.sendto(m, ("127.0.0.1", port))
    data, addr = s.recvfrom(65536)
    assert addr == ("127.0.0.1", port), addr
    assert data == m, (len(data), len(m))
s.sendto(b"done", ("127.0.0.1", port))
print("ok", len(msgs))
"#;

    #[test]
    fn a_python_client_gets_every_datagram_echoed() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_address().port();
        let Some(child) = common::python::spawn(CLIENT, &[port.to_string()]) else {
            return;
        };
        common::run(async {
            let mut buf = vec![0u8; 65_536];
            loop {
                let (n, from) = server
                    .recv_from(&mut buf)
                    .timeout(Duration::from_secs(20))
                    .await
                    .expect("a datagram from python");
                if &buf[..n] == b"done" {
                    break;
                }
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        common::python::expect_output(child, "ok 4");
    }
}
