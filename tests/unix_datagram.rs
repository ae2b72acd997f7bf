//! Unix datagram sockets: datagrams whole, of every size and byte value, truncation,
//! timeouts, cancellation, a full receiver and the cooperative budget. One module per behaviour
//! (each was its own test binary); `unix_datagram_addresses.rs` has the addresses.

mod common;

mod unix_datagram_budget {
    //! Unix datagrams and the cooperative budget: a task whose sends and receives never have to
    //! wait still yields to the other tasks (after at most 128 socket operations).

    use crate::common;

    use std::cell::Cell;
    use std::rc::Rc;

    use event::UnixDatagram;

    #[test]
    fn a_task_whose_operations_never_wait_yields_to_another_task() {
        common::run(async {
            // A pair's queue holds only a few datagrams (net.unix.max_dgram_qlen), so the task
            // sends one and receives it: two operations per round, neither waits.
            let (a, b) = UnixDatagram::pair().unwrap();
            let mut buf = [0u8; 16];
            a.send(b"warm").await.unwrap();
            b.recv(&mut buf).await.unwrap();
            let other_ran = Rc::new(Cell::new(false));
            let flag = other_ran.clone();
            let other = event::spawn(async move { flag.set(true) });
            let mut rounds = 0u32;
            while !other_ran.get() && rounds < 1000 {
                a.send(&rounds.to_le_bytes()).await.unwrap();
                let n = b.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &rounds.to_le_bytes(), "in order, none lost");
                rounds += 1;
            }
            other.await.unwrap();
            assert!(
                rounds <= 65,
                "the other task ran only after {rounds} rounds (two operations each) that never waited"
            );
        });
    }
}

mod unix_datagram_cancel_pending_recv {
    //! Unix datagrams: dropping a pending receive loses no datagram (the one that arrives later
    //! goes to the next receive), and receivers sharing a socket take turns in the order they
    //! started, a cancelled one passing its turn on.

    use crate::common;

    use std::rc::Rc;
    use std::time::Duration;

    use event::UnixDatagram;

    #[test]
    fn a_dropped_pending_receive_leaves_the_datagram_for_the_next() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let mut buf = [0u8; 64];
            assert!(common::poll_once_then_drop(b.recv(&mut buf)));
            let r = event::timeout(Duration::from_millis(30), b.recv_from(&mut buf)).await;
            assert!(r.is_err(), "nothing yet");
            a.send(b"kept").await.unwrap();
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"kept");
        });
    }

    #[test]
    fn receivers_sharing_a_socket_take_turns_and_a_cancelled_one_passes_its_turn_on() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let b = Rc::new(b);
            let receiver = |b: Rc<UnixDatagram>| async move {
                let mut buf = [0u8; 64];
                let n = b.recv(&mut buf).await.unwrap();
                buf[..n].to_vec()
            };
            let first = event::spawn(receiver(b.clone()));
            let second = event::spawn(receiver(b.clone()));
            event::sleep(Duration::from_millis(20)).await;
            let third = event::spawn(receiver(b.clone()));
            event::sleep(Duration::from_millis(20)).await;
            third.cancel().await;
            a.send(b"1").await.unwrap();
            a.send(b"2").await.unwrap();
            assert_eq!(
                first.await.unwrap(),
                b"1",
                "the first to ask gets the first"
            );
            assert_eq!(second.await.unwrap(), b"2");
        });
    }
}

mod unix_datagram_every_byte_value {
    //! Unix datagrams carry every byte value unchanged, over a path, an abstract name and a pair.

    use crate::common;

    use common::unix::{TempDir, abstract_name};
    use event::{UnixAddress, UnixDatagram};

    /// Every byte value, twice, in an order that is not sorted.
    fn every_byte() -> Vec<u8> {
        (0..512u32).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    async fn round_trip(server: &UnixDatagram, client: &UnixDatagram, to: UnixAddress) {
        let msg = every_byte();
        client.send_to(&msg, to).await.unwrap();
        let mut buf = [0u8; 1024];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &msg[..]);
        server.send_to(&buf[..n], from).await.unwrap();
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &msg[..], "echoed back whole");
    }

    #[test]
    fn every_byte_value_arrives_over_a_path() {
        let dir = TempDir::new("dg-bytes");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
            round_trip(&server, &client, server.local_address()).await;
        });
    }

    #[test]
    fn every_byte_value_arrives_over_an_abstract_name() {
        common::run(async {
            let server = UnixDatagram::bind(abstract_name("dg-bytes-s").as_str()).unwrap();
            let client = UnixDatagram::bind(abstract_name("dg-bytes-c").as_str()).unwrap();
            round_trip(&server, &client, server.local_address()).await;
        });
    }

    #[test]
    fn every_byte_value_arrives_over_a_pair() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let msg = every_byte();
            a.send(&msg).await.unwrap();
            let mut buf = [0u8; 1024];
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg[..]);
        });
    }
}

mod unix_datagram_full_receiver {
    //! A send to a Unix datagram receiver whose queue is full waits, without spinning, and goes out
    //! once the receiver drains: for an unconnected send_to (whose writable edges come after every
    //! refused send, so it retries on a timer) and for a connected send (woken by the edge).

    use crate::common;

    use std::rc::Rc;
    use std::time::Duration;

    use common::unix::TempDir;
    use event::UnixDatagram;

    /// Sends until a send has to wait; returns how many went out.
    async fn fill(send: impl AsyncFnMut() -> bool) -> usize {
        let mut send = send;
        let mut n = 0;
        while send().await {
            n += 1;
        }
        n
    }

    #[test]
    fn a_blocked_send_waits_without_spinning_and_completes_when_the_receiver_drains() {
        let dir = TempDir::new("dg-full");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let client = Rc::new(UnixDatagram::unbound().unwrap());
            let (a, b) = UnixDatagram::pair().unwrap();
            let a = Rc::new(a);
            let short = Duration::from_millis(20);
            let path = dir.join("s.sock");
            let queued =
                fill(async || client.send_to(b"q", &path).timeout(short).await.is_ok()).await;
            let queued_pair = fill(async || a.send(b"q").timeout(short).await.is_ok()).await;
            assert!(queued > 0 && queued_pair > 0);
            let unconnected = event::spawn({
                let (client, path) = (client.clone(), path.clone());
                async move { client.send_to(b"last", &path).await }
            });
            let connected = event::spawn({
                let a = a.clone();
                async move { a.send(b"last").await }
            });
            event::sleep(Duration::from_millis(50)).await;
            let cpu = common::sys::thread_cpu_time();
            event::sleep(Duration::from_millis(500)).await;
            let used = common::sys::thread_cpu_time() - cpu;
            assert!(
                used < Duration::from_millis(100),
                "two blocked sends used {used:?} of CPU in 0.5 s"
            );
            let mut buf = [0u8; 8];
            for _ in 0..queued {
                server.recv_from(&mut buf).await.unwrap();
            }
            for _ in 0..queued_pair {
                b.recv(&mut buf).await.unwrap();
            }
            assert_eq!(unconnected.await.unwrap().unwrap(), 4);
            assert_eq!(connected.await.unwrap().unwrap(), 4);
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"last");
            assert_eq!(b.recv(&mut buf).await.unwrap(), 4);
        });
    }
}

mod unix_datagram_largest {
    //! The largest Unix datagram the default send buffer allows (found by trying, since it is
    //! SO_SNDBUF less the kernel's overhead) arrives whole; one byte more fails to send with
    //! EMSGSIZE and an error that says what to do.

    use crate::common;

    use event::{SocketError, UnixDatagram};

    /// The largest datagram `socket` can send, found by bisection over real sends to `peer`'s
    /// queue (each success is received and checked, so the queue never fills).
    async fn largest_sendable(socket: &UnixDatagram, peer: &UnixDatagram, sndbuf: usize) -> usize {
        let (mut ok, mut too_large) = (0, sndbuf + 1);
        let mut buf = vec![0u8; sndbuf + 1];
        while too_large - ok > 1 {
            let len = (ok + too_large) / 2;
            match socket.send(&common::pattern(len, len as u64)).await {
                Ok(n) => {
                    assert_eq!(n, len);
                    assert_eq!(peer.recv(&mut buf).await.unwrap(), len);
                    ok = len;
                }
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => too_large = len,
                Err(e) => panic!("send of {len} bytes: {e}"),
            }
        }
        ok
    }

    #[test]
    fn the_largest_datagram_the_send_buffer_allows_arrives_whole() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let sndbuf = socket2::SockRef::from(&a).send_buffer_size().unwrap();
            let limit = largest_sendable(&a, &b, sndbuf).await;
            println!("SO_SNDBUF {sndbuf}: the largest datagram is {limit} bytes");
            assert!(limit > 64 * 1024 && limit < sndbuf, "{limit} of {sndbuf}");

            let msg = common::pattern(limit, 99);
            assert_eq!(a.send(&msg).await.unwrap(), limit);
            let mut buf = vec![0u8; limit];
            assert_eq!(b.recv(&mut buf).await.unwrap(), limit, "not truncated");
            assert!(buf == msg, "every byte as sent");

            let err = a.send(&vec![7u8; limit + 1]).await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE));
            assert!(
                matches!(err, SocketError::Unix { op: "send", .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("SO_SNDBUF"), "{err}");
        });
    }
}

mod unix_datagram_stream {
    //! `UnixDatagram::datagrams`: a Stream of each datagram and its sender, in order (truncation in
    //! the stream: `unix_datagram_truncation` below).

    use crate::common;

    use common::unix::TempDir;
    use event::UnixDatagram;

    #[test]
    fn the_stream_yields_each_datagram_with_its_sender_in_order() {
        let dir = TempDir::new("dg-stream");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let a = UnixDatagram::bind(dir.join("a.sock")).unwrap();
            let b = UnixDatagram::unbound().unwrap();
            a.send_to(b"one", dir.join("s.sock")).await.unwrap();
            b.send_to(b"two", dir.join("s.sock")).await.unwrap();
            a.send_to(b"three", dir.join("s.sock")).await.unwrap();
            let mut datagrams = server.datagrams(1500);
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(datagrams.next().await.unwrap().unwrap());
            }
            assert_eq!(
                got,
                vec![
                    (b"one".to_vec(), a.local_address()),
                    (b"two".to_vec(), event::UnixAddress::Unnamed),
                    (b"three".to_vec(), a.local_address()),
                ]
            );
        });
    }
}

mod unix_datagram_timeouts {
    //! Unix datagram timeouts: a receive that times out consumed nothing (the datagram that comes
    //! later goes to the next receive), default timeouts apply to every operation, and the errors
    //! name the operation and the address.

    use crate::common;

    use std::time::Duration;

    use common::unix::TempDir;
    use event::{SocketError, UnixDatagram};

    #[test]
    fn a_receive_that_times_out_consumes_nothing_and_names_the_socket() {
        let dir = TempDir::new("dg-timeout");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let mut buf = [0u8; 64];
            let err = server
                .recv_from(&mut buf)
                .timeout(Duration::from_millis(30))
                .await
                .unwrap_err();
            assert!(err.is_timeout(), "{err:?}");
            assert!(
                matches!(&err, SocketError::UnixTimeout { op: "recv", address, .. } if *address == server.local_address()),
                "{err:?}"
            );
            assert!(err.to_string().contains("s.sock"), "{err}");
            let client = UnixDatagram::unbound().unwrap();
            client.send_to(b"later", dir.join("s.sock")).await.unwrap();
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"later");
        });
    }

    #[test]
    fn the_default_receive_timeout_applies_to_recv_and_the_stream() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            b.set_recv_timeout(Some(Duration::from_millis(20)));
            assert_eq!(b.recv_timeout(), Some(Duration::from_millis(20)));
            let err = b.recv(&mut [0u8; 8]).await.unwrap_err();
            assert!(err.is_timeout(), "{err:?}");
            let mut stream = b.datagrams(8);
            assert!(stream.next().await.unwrap().unwrap_err().is_timeout());
            a.send(b"ok").await.unwrap();
            assert_eq!(stream.next().await.unwrap().unwrap().0, b"ok");
        });
    }

    #[test]
    fn a_send_to_a_full_receiver_times_out_naming_it_and_sent_nothing() {
        let dir = TempDir::new("dg-sendtimeout");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("full.sock")).unwrap();
            let (a, b) = UnixDatagram::pair().unwrap();
            let client = UnixDatagram::unbound().unwrap();
            client.set_send_timeout(Some(Duration::from_millis(50)));
            a.set_send_timeout(Some(Duration::from_millis(50)));
            // Fill both receivers' queues: an unconnected send_to and a connected send.
            let mut sent = (0, 0);
            let err = loop {
                match client.send_to(b"fill", dir.join("full.sock")).await {
                    Ok(_) => sent.0 += 1,
                    Err(e) => break e,
                }
            };
            assert!(
                matches!(&err, SocketError::UnixTimeout { op: "send", address, .. } if *address == server.local_address()),
                "{err:?}"
            );
            assert!(err.to_string().contains("full.sock"), "{err}");
            let err = loop {
                match a.send(b"fill").await {
                    Ok(_) => sent.1 += 1,
                    Err(e) => break e,
                }
            };
            assert!(err.is_timeout(), "{err:?}");
            // Exactly the datagrams that were reported sent are queued.
            let mut buf = [0u8; 8];
            for _ in 0..sent.0 {
                server.recv_from(&mut buf).await.unwrap();
            }
            for _ in 0..sent.1 {
                b.recv(&mut buf).await.unwrap();
            }
            for socket in [&server, &b] {
                let r = socket
                    .recv_from(&mut buf)
                    .timeout(Duration::from_millis(20))
                    .await;
                assert!(r.unwrap_err().is_timeout(), "nothing more was queued");
            }
        });
    }
}

mod unix_datagram_truncation {
    //! A Unix datagram larger than the buffer is reported with its full length (also past the
    //! loop's 64 KiB scratch buffer), never cut silently; the buffer holds its first bytes and the
    //! next datagram is whole.

    use crate::common;

    use common::unix::TempDir;
    use event::{SocketError, UnixDatagram};

    #[test]
    fn a_datagram_larger_than_the_buffer_is_reported_with_its_full_length_and_sender() {
        let dir = TempDir::new("dg-trunc");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
            let msg = common::pattern(1000, 1);
            client.send_to(&msg, dir.join("s.sock")).await.unwrap();
            client.send_to(b"next", dir.join("s.sock")).await.unwrap();
            let mut small = [0u8; 100];
            match server.recv_from(&mut small).await.unwrap_err() {
                SocketError::UnixTruncated {
                    peer,
                    len,
                    capacity,
                } => {
                    assert_eq!(peer, client.local_address());
                    assert_eq!((len, capacity), (1000, 100));
                }
                other => panic!("expected UnixTruncated, got {other}"),
            }
            assert_eq!(&small[..], &msg[..100], "the buffer holds the first bytes");
            let (n, _) = server.recv_from(&mut small).await.unwrap();
            assert_eq!(&small[..n], b"next", "the next datagram is whole");
        });
    }

    #[test]
    fn a_datagram_over_64_kib_into_a_small_buffer_reports_its_full_length() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let big = common::pattern(150_000, 2);
            a.send(&big).await.unwrap();
            let mut buf = vec![0u8; 70_000];
            let err = b.recv(&mut buf).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    SocketError::UnixTruncated {
                        len: 150_000,
                        capacity: 70_000,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("truncated"), "{err}");
            assert!(buf[..] == big[..70_000]);
        });
    }

    #[test]
    fn truncation_is_reported_in_the_datagram_stream() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            a.send(&[2u8; 50]).await.unwrap();
            a.send(&[3u8; 5]).await.unwrap();
            let mut datagrams = b.datagrams(10);
            let first = datagrams.next().await.unwrap();
            assert!(
                matches!(
                    first,
                    Err(SocketError::UnixTruncated {
                        len: 50,
                        capacity: 10,
                        ..
                    })
                ),
                "{first:?}"
            );
            let (second, _) = datagrams.next().await.unwrap().unwrap();
            assert_eq!(second, vec![3u8; 5]);
        });
    }
}

mod unix_datagram_zero_length {
    //! A 0-byte Unix datagram is a datagram: it arrives as one (with its sender), between others,
    //! and a 0-byte buffer receiving a longer one reports truncation.

    use crate::common;

    use common::unix::TempDir;
    use event::{SocketError, UnixDatagram};

    #[test]
    fn an_empty_datagram_arrives_as_one_between_others() {
        let dir = TempDir::new("dg-zero");
        common::run(async {
            let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
            let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
            for msg in [&b"a"[..], b"", b"b"] {
                assert_eq!(
                    client.send_to(msg, dir.join("s.sock")).await.unwrap(),
                    msg.len()
                );
            }
            let mut buf = [0u8; 16];
            for want in [&b"a"[..], b"", b"b"] {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], want);
                assert_eq!(from, client.local_address());
            }
        });
    }

    #[test]
    fn an_empty_buffer_takes_an_empty_datagram_and_reports_a_longer_one() {
        common::run(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            a.send(b"").await.unwrap();
            a.send(b"xyz").await.unwrap();
            assert_eq!(b.recv(&mut []).await.unwrap(), 0);
            let err = b.recv(&mut []).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    SocketError::UnixTruncated {
                        len: 3,
                        capacity: 0,
                        ..
                    }
                ),
                "{err:?}"
            );
        });
    }
}
