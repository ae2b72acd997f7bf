//! UDP datagrams: sends and receives, their sizes and contents, errors, timeouts,
//! cancellation and the cooperative budget. One module per behaviour (each was its own test
//! binary); `udp_sockets.rs` has binding, options and peers.

mod common;

mod udp_budget {
    //! UDP and the cooperative budget: a task whose socket always has a datagram waiting still
    //! yields to the other tasks (after at most 128 operations), as on TCP.

    use crate::common;

    use std::cell::Cell;
    use std::rc::Rc;

    use event::UdpSocket;

    /// Datagrams queued before the reader starts: more than the budget, fewer than a default
    /// receive buffer holds.
    const QUEUED: usize = 200;

    #[test]
    fn a_task_with_datagrams_always_waiting_yields_to_another_task() {
        common::run(async {
            let reader = UdpSocket::bind("127.0.0.1:0").unwrap();
            let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            for i in 0..QUEUED {
                sender
                    .send_to(&(i as u32).to_le_bytes(), reader.local_address().to_std())
                    .unwrap();
            }
            // Let the loop see the socket's readiness once.
            let mut buf = [0u8; 16];
            reader.recv_from(&mut buf).await.unwrap();
            let other_ran = Rc::new(Cell::new(false));
            let flag = other_ran.clone();
            let other = event::spawn(async move { flag.set(true) });
            let mut reads = 1;
            while !other_ran.get() && reads < QUEUED {
                let (n, _) = reader.recv_from(&mut buf).await.unwrap();
                assert_eq!(
                    &buf[..n],
                    &(reads as u32).to_le_bytes(),
                    "in order, none lost"
                );
                reads += 1;
            }
            other.await.unwrap();
            assert!(
                reads <= 129 + 1,
                "the other task ran only after {reads} receives that never waited"
            );
        });
    }
}

mod udp_cancel_pending_recv {
    //! UDP: dropping a pending receive loses no datagram: the one that arrives afterwards goes to
    //! the next receive, and so does one that arrived while the receive was pending (its task
    //! woken: on io_uring the datagram is then in the socket's queue in user space) if the receive
    //! is dropped before it is polled again; a second receiver waiting behind the dropped one gets
    //! its turn.

    use crate::common;

    use std::future::Future;
    use std::pin::pin;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake};
    use std::time::Duration;

    use event::UdpSocket;

    #[test]
    fn a_dropped_pending_receive_leaves_the_datagram_for_the_next() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut buf = [0u8; 64];
            // A receive that waits, then is dropped (as a `select` or a timeout would).
            assert!(common::poll_once_then_drop(b.recv_from(&mut buf)));
            let r = event::timeout(Duration::from_millis(30), b.recv_from(&mut buf)).await;
            assert!(r.is_err(), "nothing yet");
            a.send_to(b"kept", b.local_address()).await.unwrap();
            event::sleep(Duration::from_millis(20)).await;
            let (n, _) = b
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"kept");
        });
    }

    /// Counts its wake-ups.
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_receive_dropped_after_its_datagram_arrived_leaves_it_for_the_next() {
        common::run(async {
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
            let waker = std::task::Waker::from(counter.clone());
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0u8; 64];
            {
                let mut pending = pin!(b.recv_from(&mut buf));
                assert!(pending.as_mut().poll(&mut cx).is_pending());
                let to: std::net::SocketAddr = b.local_address().into();
                a.send_to(b"arrived while waiting", to).unwrap();
                // The loop turns until the datagram has reached the socket and woken the receive.
                for _ in 0..500 {
                    if counter.0.load(Ordering::SeqCst) > 0 {
                        break;
                    }
                    event::sleep(Duration::from_millis(2)).await;
                }
                assert!(
                    counter.0.load(Ordering::SeqCst) > 0,
                    "the receive was woken"
                );
                // Dropped here without being polled again.
            }
            let (n, from) = b
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"arrived while waiting");
            assert_eq!(from, a.local_addr().unwrap().into());
        });
    }

    #[test]
    fn receivers_sharing_a_socket_take_turns_and_a_dropped_one_passes_its_turn_on() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            let first = event::spawn({
                let b = b.clone();
                async move {
                    let mut buf = [0u8; 64];
                    let (n, _) = b.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                }
            });
            let second = event::spawn({
                let b = b.clone();
                async move {
                    let mut buf = [0u8; 64];
                    let (n, _) = b.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                }
            });
            event::sleep(Duration::from_millis(20)).await;
            // A third queues behind them and is cancelled: it must not hold up anyone.
            let third = event::spawn({
                let b = b.clone();
                async move { b.recv_from(&mut [0u8; 64]).await.map(|(n, _)| n) }
            });
            event::sleep(Duration::from_millis(20)).await;
            third.cancel().await;
            a.send_to(b"1", b.local_address()).await.unwrap();
            a.send_to(b"2", b.local_address()).await.unwrap();
            assert_eq!(
                first.await.unwrap(),
                b"1",
                "the first to ask gets the first"
            );
            assert_eq!(second.await.unwrap(), b"2");
        });
    }
}

mod udp_connected_refused {
    //! UDP: a connected socket whose peer's port is closed learns it from the ICMP "port
    //! unreachable": the next receive (or a later send) fails with a clear `ConnectionRefused`, not
    //! silence; the error is reported once and the socket stays usable.

    use crate::common;

    use std::io::ErrorKind;
    use std::time::Duration;

    use event::{SocketError, UdpSocket};

    /// A port on 127.0.0.1 with nothing bound to it (bound, then closed).
    fn closed_port() -> std::net::SocketAddr {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    }

    #[test]
    fn a_send_to_a_closed_port_fails_the_next_recv_with_connection_refused() {
        common::run(async {
            let closed = closed_port();
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.connect(closed).unwrap();
            assert_eq!(socket.peer_address(), Some(closed.into()));
            socket.send(b"anyone?").await.unwrap();
            let mut buf = [0u8; 64];
            let err = socket
                .recv(&mut buf)
                .timeout(Duration::from_secs(5))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
            assert!(matches!(err, SocketError::Recv { peer: Some(p), .. } if p == closed));
            assert!(err.to_string().contains(&closed.to_string()), "{err}");
            // Reported once: the next receive waits (and times out) instead of failing again.
            let again = socket
                .recv(&mut buf)
                .timeout(Duration::from_millis(50))
                .await
                .unwrap_err();
            assert!(again.is_timeout(), "{again}");
        });
    }

    #[test]
    fn a_refusal_surfaces_on_a_later_send_when_nobody_receives() {
        common::run(async {
            let closed = closed_port();
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.connect(closed).unwrap();
            socket.send(b"one").await.unwrap();
            // Give the ICMP error time to arrive (loopback: at once).
            event::sleep(Duration::from_millis(50)).await;
            let two = socket.send(b"two").await;
            let err = if event::backend() == "io_uring" {
                // A send is done once queued: the kernel's refusal of "two" is kept for the send
                // after the loop has turned.
                two.unwrap();
                event::sleep(Duration::from_millis(10)).await;
                socket.send(b"three").await.unwrap_err()
            } else {
                two.unwrap_err()
            };
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
            assert!(
                matches!(err, SocketError::Send { peer, .. } if peer == closed),
                "{err}"
            );
            // Reported once: the socket stays usable.
            socket.send(b"four").await.unwrap();
        });
    }

    #[test]
    fn recv_and_send_without_connect_say_so() {
        common::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let err = socket.recv(&mut [0; 8]).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
            let err = socket.send(b"x").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
            assert!(err.to_string().contains("connect first"), "{err}");
        });
    }
}

mod udp_datagram_stream {
    //! UDP: `datagrams(max_len)` is a `futures_core::Stream` of (bytes, sender), each datagram
    //! whole and in order.

    use crate::common;

    use std::pin::Pin;
    use std::task::Poll;

    use event::UdpSocket;
    use futures_core::Stream;

    #[test]
    fn the_stream_yields_each_datagram_with_its_sender() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            for i in 0..50u32 {
                let from = if i % 2 == 0 { &a } else { &c };
                from.send_to(&i.to_le_bytes(), b.local_address())
                    .await
                    .unwrap();
            }
            let mut datagrams = b.datagrams(1500);
            for i in 0..50u32 {
                let (bytes, from) = datagrams.next().await.unwrap().unwrap();
                assert_eq!(bytes, i.to_le_bytes());
                let expected = if i % 2 == 0 { &a } else { &c };
                assert_eq!(from, expected.local_address());
            }
            // Through the trait, as a combinator would poll it.
            a.send_to(b"trait", b.local_address()).await.unwrap();
            let item = std::future::poll_fn(|cx| match Pin::new(&mut datagrams).poll_next(cx) {
                Poll::Ready(item) => Poll::Ready(item),
                Poll::Pending => Poll::Pending,
            })
            .await;
            assert_eq!(item.unwrap().unwrap().0, b"trait");
        });
    }
}

mod udp_earlier_send_error_keeps_its_errno {
    //! UDP: the error of a datagram the kernel refused keeps its errno whichever send reports it.
    //!
    //! On epoll the refusal is the `sendto`'s own; on io_uring a send is done once queued, and the
    //! kernel's verdict on it comes back with a later send, possibly to another destination. Either
    //! way `SocketError::raw_os_error` gives the errno, as the contract says every error does.

    use crate::common;

    use std::time::Duration;

    use event::UdpSocket;

    #[test]
    fn a_refusal_reported_by_a_send_to_another_destination_keeps_its_errno() {
        common::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
            let good = peer.local_address().to_std();
            // Port 0 is no destination: the kernel refuses the datagram with EINVAL.
            let nowhere: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
            let err = match socket.send_to(b"lost", nowhere).await {
                Err(err) => err,
                Ok(_) => {
                    // Queued (io_uring): the refusal comes back with the next send, to `good`.
                    event::sleep(Duration::from_millis(10)).await;
                    socket.send_to(b"not sent", good).await.unwrap_err()
                }
            };
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
            assert!(err.to_string().contains("127.0.0.1:0"), "{err}");
        });
    }
}

mod udp_every_byte_value {
    //! UDP: every byte value survives a round trip, in one datagram and one datagram per value.

    use crate::common;

    use event::UdpSocket;

    #[test]
    fn a_datagram_of_every_byte_value_arrives_intact_both_ways() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let all: Vec<u8> = (0..=255u8).collect();
            assert_eq!(a.send_to(&all, b.local_address()).await.unwrap(), 256);
            let mut buf = [0u8; 1024];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &all[..]);
            assert_eq!(from, a.local_address());
            b.send_to(&buf[..n], from).await.unwrap();
            let (n, _) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &all[..]);
        });
    }

    #[test]
    fn one_datagram_per_byte_value_arrives_in_order_and_separately() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            for v in 0..=255u8 {
                a.send_to(&[v, v, v], b.local_address()).await.unwrap();
            }
            let mut buf = [0u8; 16];
            for v in 0..=255u8 {
                let (n, _) = b.recv_from(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &[v, v, v], "datagram {v}");
            }
        });
    }
}

mod udp_largest_datagram {
    //! UDP: the largest IPv4 datagram (65,507 bytes) goes through whole, and one byte more is
    //! refused with a clear `DatagramTooLarge` (EMSGSIZE), nothing sent.

    use crate::common;

    use event::{SocketError, UdpSocket};

    const MAX_V4: usize = 65_507;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn a_65507_byte_datagram_arrives_whole() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let big = pattern(MAX_V4);
            assert_eq!(a.send_to(&big, b.local_address()).await.unwrap(), MAX_V4);
            // A buffer that holds any datagram (received into directly) ...
            let mut buf = vec![0u8; 65_536];
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, MAX_V4);
            assert!(buf[..n] == big[..]);
            // ... and one exactly the datagram's size (received through the loop's buffer).
            a.send_to(&big, b.local_address()).await.unwrap();
            let mut exact = vec![0u8; MAX_V4];
            let (n, _) = b.recv_from(&mut exact).await.unwrap();
            assert_eq!(n, MAX_V4);
            assert!(exact == big);
        });
    }

    #[test]
    fn a_datagram_too_large_for_udp_fails_with_emsgsize() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let too_big = pattern(MAX_V4 + 1);
            let err = a.send_to(&too_big, b.local_address()).await.unwrap_err();
            assert!(
                matches!(err, SocketError::DatagramTooLarge { len, .. } if len == MAX_V4 + 1),
                "{err}"
            );
            assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE));
            assert!(err.to_string().contains("too large"), "{err}");
            // Nothing was sent, and the socket still works.
            a.send_to(b"small", b.local_address()).await.unwrap();
            let mut buf = [0u8; 64];
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"small");
        });
    }
}

mod udp_send_burst_and_later_error {
    //! UDP sends in a burst and the error of a send the kernel refused.
    //!
    //! On io_uring a send is done once queued for the loop's next wait (a turn's sends reach the
    //! kernel together), at most a bounded window of them per socket; on epoll a send is a
    //! `sendto`. Either way every datagram of a burst reaches a reader that keeps up, and an
    //! error the kernel reports says which destination it was for.

    use crate::common;

    use std::collections::BTreeSet;
    use std::io::ErrorKind;
    use std::time::Duration;

    use event::UdpSocket;

    /// Datagram `seq` of the burst: its number, then bytes derived from it.
    fn datagram(seq: u32) -> Vec<u8> {
        let mut d = seq.to_le_bytes().to_vec();
        d.extend((0..996u32).map(|i| (i ^ seq) as u8));
        d
    }

    #[test]
    fn a_burst_of_sends_without_a_pause_all_arrive_whole() {
        const COUNT: u32 = 2000;
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Room for the whole burst in the kernel, so nothing may drop on the way.
        socket2::SockRef::from(&peer)
            .set_recv_buffer_size(8 << 20)
            .unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = peer.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let mut seen = BTreeSet::new();
            let mut buf = [0u8; 2048];
            while seen.len() < COUNT as usize {
                let n = peer
                    .recv(&mut buf)
                    .expect("every datagram of the burst arrives");
                let seq = u32::from_le_bytes(buf[..4].try_into().unwrap());
                assert_eq!(&buf[..n], &datagram(seq)[..], "datagram {seq} whole");
                assert!(seen.insert(seq), "datagram {seq} twice");
            }
            seen
        });
        common::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            // No await between sends returns to the loop unless the send window is full.
            for seq in 0..COUNT {
                let sent = socket.send_to(&datagram(seq), addr).await.unwrap();
                assert_eq!(sent, 1000);
            }
        });
        let seen = reader.join().unwrap();
        assert_eq!(seen, (0..COUNT).collect::<BTreeSet<_>>());
    }

    #[test]
    fn a_refused_send_is_reported_with_its_destination() {
        common::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
            let good = peer.local_address().to_std();
            // Port 0 is no destination: the kernel refuses the datagram (EINVAL).
            let nowhere: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
            let first = socket.send_to(b"lost", nowhere).await;
            let err = if event::backend() == "io_uring" {
                // Done once queued: the refusal is the next send's (after a turn of the loop),
                // and names the datagram it was for; the next send itself sent nothing.
                first.unwrap();
                event::sleep(Duration::from_millis(10)).await;
                socket.send_to(b"not sent", good).await.unwrap_err()
            } else {
                first.unwrap_err()
            };
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("127.0.0.1:0"), "{err}");
            // Reported once: the socket goes on, and the next datagram arrives.
            socket.send_to(b"after", good).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, _) = peer
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(10))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"after");
        });
    }
}

mod udp_timeout {
    //! UDP: per-operation timeouts; a receive that times out consumed nothing (the datagram that
    //! arrives later goes to the next receive); the socket's default timeout applies to every
    //! receive that gives none of its own.

    use crate::common;

    use std::time::{Duration, Instant};

    use event::{SocketError, UdpSocket};

    #[test]
    fn a_receive_times_out_having_consumed_nothing() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut buf = [0u8; 64];
            let started = Instant::now();
            let err = b
                .recv_from(&mut buf)
                .timeout(Duration::from_millis(100))
                .await
                .unwrap_err();
            assert!(
                matches!(err, SocketError::Timeout { after, .. } if after == Duration::from_millis(100))
            );
            assert!(started.elapsed() >= Duration::from_millis(90));
            a.send_to(b"late", b.local_address()).await.unwrap();
            let (n, _) = b
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(&buf[..n], b"late");
        });
    }

    #[test]
    fn the_default_receive_timeout_applies_to_recv_and_the_stream() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            b.set_recv_timeout(Some(Duration::from_millis(50)));
            assert_eq!(b.recv_timeout(), Some(Duration::from_millis(50)));
            b.connect(a.local_address()).unwrap();
            assert!(b.recv(&mut [0; 8]).await.unwrap_err().is_timeout());
            let mut datagrams = b.datagrams(64);
            assert!(datagrams.next().await.unwrap().unwrap_err().is_timeout());
            a.send_to(b"x", b.local_address()).await.unwrap();
            let (got, _) = datagrams.next().await.unwrap().unwrap();
            assert_eq!(got, b"x");
            // A send with a timeout that has room goes out at once.
            b.set_send_timeout(Some(Duration::from_millis(50)));
            assert_eq!(
                b.send(b"y").timeout(Duration::from_secs(1)).await.unwrap(),
                1
            );
        });
    }
}

mod udp_truncation {
    //! UDP: a datagram larger than the buffer is reported as truncated, with its full length,
    //! never silently cut; the buffer holds its first bytes and the socket stays usable.

    use crate::common;

    use event::{SocketError, UdpSocket};

    #[test]
    fn a_datagram_larger_than_the_buffer_is_reported_with_its_full_length() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let msg: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
            a.send_to(&msg, b.local_address()).await.unwrap();
            a.send_to(b"next", b.local_address()).await.unwrap();
            let mut small = [0u8; 100];
            let err = b.recv_from(&mut small).await.unwrap_err();
            match err {
                SocketError::Truncated {
                    peer,
                    len,
                    capacity,
                } => {
                    assert_eq!(peer, a.local_address().to_std());
                    assert_eq!((len, capacity), (1000, 100));
                }
                other => panic!("expected Truncated, got {other}"),
            }
            assert_eq!(&small[..], &msg[..100], "the buffer holds the first bytes");
            let (n, _) = b.recv_from(&mut small).await.unwrap();
            assert_eq!(&small[..n], b"next", "the next datagram is whole");
        });
    }

    #[test]
    fn truncation_is_reported_on_a_connected_socket_and_in_the_stream() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            b.connect(a.local_address()).unwrap();
            a.send_to(&[1u8; 50], b.local_address()).await.unwrap();
            let mut buf = [0u8; 10];
            let err = b.recv(&mut buf).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    SocketError::Truncated {
                        len: 50,
                        capacity: 10,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("truncated"), "{err}");
            a.send_to(&[2u8; 50], b.local_address()).await.unwrap();
            a.send_to(&[3u8; 5], b.local_address()).await.unwrap();
            let mut datagrams = b.datagrams(10);
            let first = datagrams.next().await.unwrap();
            assert!(matches!(first, Err(SocketError::Truncated { len: 50, .. })));
            let (second, _) = datagrams.next().await.unwrap().unwrap();
            assert_eq!(second, vec![3u8; 5]);
        });
    }
}

mod udp_zero_length {
    //! UDP: a 0-byte datagram is a datagram (received as length 0, with its sender), into an empty
    //! buffer or a large one.

    use crate::common;

    use event::UdpSocket;

    #[test]
    fn zero_byte_datagrams_are_received_as_length_zero() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            assert_eq!(a.send_to(&[], b.local_address()).await.unwrap(), 0);
            a.send_to(&[], b.local_address()).await.unwrap();
            a.send_to(b"after", b.local_address()).await.unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (0, a.local_address()));
            // An empty buffer holds a 0-byte datagram whole.
            let (n, _) = b.recv_from(&mut []).await.unwrap();
            assert_eq!(n, 0);
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"after");
        });
    }

    #[test]
    fn zero_byte_datagrams_on_a_connected_socket() {
        common::run(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            a.connect(b.local_address()).unwrap();
            b.connect(a.local_address()).unwrap();
            assert_eq!(a.send(&[]).await.unwrap(), 0);
            let mut buf = [0u8; 8];
            assert_eq!(b.recv(&mut buf).await.unwrap(), 0);
        });
    }
}
