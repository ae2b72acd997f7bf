//! TCP close and teardown: cancelled writes, sockets closed with bytes in flight, and a byte
//! counted as written reaching the peer. One module per behaviour (each was its own test
//! binary).

mod common;

mod tcp_cancel_and_teardown {
    //! Cancellation and teardown on either driver: dropped write futures, sockets closed with
    //! operations in flight, sockets dropped while the loop is not running, loops dropped with
    //! operations in flight, a closed listener. On io_uring every one of these involves cancelling
    //! operations the kernel still owns.
    use crate::common;

    use std::io::Read as _;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use event::{EventLoop, Socket, SocketAddress, SocketError};

    /// Reads until end of stream or a read error (both end the stream); fails after 20 s.
    async fn read_to_end(socket: &Socket) -> Vec<u8> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match socket.read(256 * 1024).timeout(left).await {
                Ok(bytes) => out.extend(bytes),
                Err(SocketError::ConnectionClosed) | Err(SocketError::Read { .. }) => return out,
                Err(e) => panic!("reading to end of stream: {e:?} after {} bytes", out.len()),
            }
        }
    }

    /// Whether `stream` is p(0) ++ p(1) ++ ... ++ p(n-1) where p(i) is a prefix of `writes[i].0`,
    /// and the whole of it if `writes[i].1` (the write completed). Backtracks over the split
    /// points.
    fn is_prefix_concatenation(stream: &[u8], writes: &[(Vec<u8>, bool)]) -> bool {
        fn go(stream: &[u8], writes: &[(Vec<u8>, bool)]) -> bool {
            let Some(((data, complete), rest)) = writes.split_first() else {
                return stream.is_empty();
            };
            let common = stream
                .iter()
                .zip(data.iter())
                .take_while(|(a, b)| a == b)
                .count();
            if *complete {
                return common == data.len() && go(&stream[common..], rest);
            }
            (0..=common).rev().any(|k| go(&stream[k..], rest))
        }
        go(stream, writes)
    }

    /// A write dropped while its bytes are in flight, then another write: the peer gets a prefix of
    /// the dropped write, then all of the next one, in order.
    #[test]
    fn dropped_write_then_write_keeps_the_stream_consistent() {
        common::run(async {
            let (a, b) = common::pair().await;
            // The peer does not read: the first write stalls and is dropped by the timeout.
            let big = common::pattern(64 << 20, 21);
            let r = event::timeout(Duration::from_millis(200), a.write(&big)).await;
            assert!(
                r.is_err(),
                "a 64 MiB write to a peer that does not read cannot finish"
            );
            let b = Rc::new(b);
            let reader = {
                let b = b.clone();
                event::spawn(async move { read_to_end(&b).await })
            };
            let tail = common::pattern(100_000, 22);
            a.write(&tail).await.unwrap();
            a.shutdown_write().unwrap();
            let got = reader.await.unwrap();
            assert!(
                is_prefix_concatenation(&got, &[(big, false), (tail, true)]),
                "the peer's {} bytes are not a prefix of the dropped write followed by the next write",
                got.len()
            );
        });
    }

    /// Many writes, each dropped after a short random time or completed, while the peer reads
    /// slowly: the stream is the concatenation of a prefix of each dropped write and all of each
    /// completed one, in order.
    #[test]
    fn writes_dropped_at_random_points_keep_the_stream_consistent() {
        common::run(async {
            let (a, b) = common::small_buffer_pair().await;
            let b = Rc::new(b);
            let reader = {
                let b = b.clone();
                event::spawn(async move {
                    let mut out = Vec::new();
                    loop {
                        match b.read(7_000).await {
                            Ok(bytes) => out.extend(bytes),
                            Err(SocketError::ConnectionClosed) => return out,
                            Err(e) => panic!("{e:?}"),
                        }
                        event::sleep(Duration::from_micros(200)).await;
                    }
                })
            };
            let mut writes = Vec::new();
            let mut x: u64 = 0x9e3779b97f4a7c15;
            for i in 0..60u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let len = 1_000 + (x % 600_000) as usize;
                let data = common::pattern(len, 100 + i);
                let limit = Duration::from_micros(x % 20_000);
                let complete = event::timeout(limit, a.write(&data)).await.is_ok();
                writes.push((data, complete));
            }
            a.shutdown_write().unwrap();
            let got = reader.await.unwrap();
            let completed = writes.iter().filter(|w| w.1).count();
            assert!(
                is_prefix_concatenation(&got, &writes),
                "{} bytes received do not match the {} writes ({completed} completed)",
                got.len(),
                writes.len()
            );
        });
    }

    /// Closing a socket with a send in flight (the peer does not read) closes the connection: the
    /// peer reads what was sent, then end of stream or a reset, and does not hang.
    #[test]
    fn close_with_a_send_in_flight_closes_the_connection() {
        common::run(async {
            let (a, b) = common::pair().await;
            let a = Rc::new(a);
            let writer = {
                let a = a.clone();
                let big = common::pattern(64 << 20, 23);
                event::spawn(async move {
                    let _ = a.write(&big).await;
                })
            };
            event::sleep(Duration::from_millis(200)).await;
            // Cancel the writing task (dropping its Write future), then drop the last socket.
            assert!(writer.cancel().await.is_none());
            assert_eq!(Rc::strong_count(&a), 1);
            drop(a);
            let start = Instant::now();
            let got = read_to_end(&b).await;
            assert!(!got.is_empty());
            assert!(start.elapsed() < Duration::from_secs(15));
        });
    }

    /// A socket dropped while its loop is not running (after `block_on` returned) closes the
    /// connection at once, as `close(2)` does: the peer sees end of stream without the loop having
    /// to turn again.
    #[test]
    fn socket_dropped_outside_a_running_loop_closes_the_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let lp = EventLoop::new().unwrap();
        let socket = lp.block_on(async move {
            let s = Socket::connect(addr).await.unwrap();
            // A read that times out: the socket has waited for data once (on io_uring its receive
            // stays armed).
            let r = s.read(16).timeout(Duration::from_millis(20)).await;
            assert!(matches!(r, Err(SocketError::Timeout { .. })), "{r:?}");
            s
        });
        let (mut peer, _) = listener.accept().unwrap();
        drop(socket);
        peer.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = [0u8; 16];
        let r = peer.read(&mut buf);
        let closed = matches!(r, Ok(0))
            || matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset);
        assert!(
            closed,
            "the socket was dropped but the peer does not see the connection closed ({r:?}, backend {})",
            lp.backend()
        );
        drop(lp);
    }

    /// The same, for a socket dropped as the last act of the future `block_on` runs.
    #[test]
    fn socket_dropped_at_the_end_of_block_on_closes_the_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let lp = EventLoop::new().unwrap();
        lp.block_on(async move {
            let s = Socket::connect(addr).await.unwrap();
            let _ = s.read(16).timeout(Duration::from_millis(20)).await;
            drop(s);
        });
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = [0u8; 16];
        let r = peer.read(&mut buf);
        assert!(
            matches!(r, Ok(0)),
            "the socket was dropped but the peer does not see end of stream ({r:?}, backend {})",
            lp.backend()
        );
        drop(lp);
    }

    /// Dropping a loop whose tasks hold sockets with a receive armed, a send in flight to a peer
    /// that does not read, and a write future just dropped neither hangs nor crashes, and the peers
    /// see their connections closed. Repeated to shake out teardown races.
    #[test]
    fn event_loop_dropped_with_operations_in_flight() {
        let big = Rc::new(common::pattern(16 << 20, 24));
        for round in 0..10u64 {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // The peers never read: a short linger timeout keeps the dropped loop's wait for the
            // stuck write-behind sends short (it is min(linger timeout, 2 s) without progress).
            let lp = EventLoop::builder()
                .linger_timeout(Duration::from_millis(200))
                .build()
                .unwrap();
            let big = big.clone();
            lp.block_on(async move {
                let mut kept = Vec::new();
                for _ in 0..4 {
                    let s = Rc::new(Socket::connect(addr).await.unwrap());
                    kept.push(s);
                }
                // 0: a reader that waits forever (receive armed).
                let s = kept[0].clone();
                event::spawn(async move {
                    let _ = s.read(1024).await;
                });
                // 1: a writer stuck on a peer that never reads (send in flight).
                let s = kept[1].clone();
                let data = big.clone();
                event::spawn(async move {
                    let _ = s.write(&data).await;
                });
                // 2: a write future dropped mid-flight (its cancellation not yet reaped).
                let s = kept[2].clone();
                let data = big.clone();
                event::spawn(async move {
                    let _ = event::timeout(Duration::from_millis(30), s.write(&data)).await;
                    let _ = s.read(1).await;
                });
                // 3: both directions at once.
                let s = kept[3].clone();
                let data = big.clone();
                event::spawn(async move {
                    let (_, _) = common::join(s.read(10), s.write(&data)).await;
                });
                event::sleep(Duration::from_millis(100)).await;
                drop(kept);
            });
            let peers: Vec<_> = (0..4).map(|_| listener.accept().unwrap().0).collect();
            let stats = lp.stats();
            let start = Instant::now();
            drop(lp);
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "round {round}: dropping the loop took {:?} (stats before: {stats:?})",
                start.elapsed()
            );
            // Every peer sees its connection end (EOF or reset) once it has read what was sent.
            for (i, mut p) in peers.into_iter().enumerate() {
                p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    match p.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                        Err(e) => panic!("round {round}: peer {i} after the loop was dropped: {e}"),
                    }
                }
            }
        }
    }

    /// A closed listener refuses new connections at once (no accept is pending on it any more).
    #[test]
    fn closed_listener_refuses_connections_promptly() {
        common::run(async {
            let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            let addr: std::net::SocketAddr = server.local_address().into();
            // One connection goes through while it is open.
            let (c, s) = common::join(Socket::connect(addr), server.accept()).await;
            let (c, s) = (c.unwrap(), s.unwrap());
            // A task waiting in accept while the listener closes.
            let server = Rc::new(server);
            let waiting = {
                let server = server.clone();
                event::spawn(async move { server.accept().await.map(|_| ()) })
            };
            event::sleep(Duration::from_millis(20)).await;
            server.close();
            assert!(server.is_closed());
            let r = event::timeout(Duration::from_secs(2), waiting).await;
            assert!(
                matches!(r, Ok(Ok(Err(_)))),
                "the pending accept ends with an error"
            );
            drop(server);
            let start = Instant::now();
            let r = Socket::connect_timeout(addr, Duration::from_secs(2)).await;
            assert!(
                matches!(r, Err(SocketError::Connect { .. })),
                "connect to a closed listener: {r:?}"
            );
            assert!(start.elapsed() < Duration::from_secs(1));
            // The connection accepted before still works.
            c.write(b"still here").await.unwrap();
            assert_eq!(common::read_exact(&s, 10).await.unwrap(), b"still here");
        });
    }
}

mod tcp_close_delivery {
    //! A byte counted as written reaches the peer, or the peer sees a reset: never a clean end of
    //! stream after missing bytes, whatever happens to the socket and the loop after the write.

    use crate::common;

    use std::io::Read as _;
    use std::net::SocketAddr;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use event::{EventLoop, Socket, SocketAddress};

    const TOTAL: usize = 8 * 1024 * 1024;

    /// How a peer's read of the stream ended.
    #[derive(Debug)]
    enum Ending {
        /// A clean end of stream after this many bytes.
        Eof(usize),
        /// A reset after this many bytes.
        Reset(usize),
    }

    /// A client with a small receive buffer, so the server's writes stall early.
    fn slow_client(addr: SocketAddr) -> std::net::TcpStream {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(32 * 1024).unwrap();
        s.connect(&addr.into()).unwrap();
        s.into()
    }

    /// Reads until the end, checking every byte against the pattern.
    fn read_all(mut client: std::net::TcpStream, pattern: &[u8]) -> Ending {
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut got = 0;
        let mut buf = vec![0; 64 * 1024];
        loop {
            match client.read(&mut buf) {
                Ok(0) => return Ending::Eof(got),
                Ok(n) => {
                    assert_eq!(&buf[..n], &pattern[got..got + n], "wrong bytes at {got}");
                    got += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ending::Reset(got);
                }
                Err(e) => panic!("read after {got} bytes: {e}"),
            }
        }
    }

    /// Serves one connection on a loop of its own: writes the pattern until a write stalls for
    /// 300 ms, then drops the socket (and, with `drop_loop`, the loop at once). Reports the bytes
    /// counted as written and how long dropping the loop took.
    fn serve_then_drop(
        linger: Duration,
        keep_loop: Duration,
    ) -> (SocketAddr, mpsc::Receiver<(usize, Duration)>) {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let lp = EventLoop::builder().linger_timeout(linger).build().unwrap();
            let written = lp.block_on(async move {
                let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
                addr_tx.send(server.local_address()).unwrap();
                let peer = server.accept().await.unwrap();
                socket2::SockRef::from(&peer)
                    .set_send_buffer_size(32 * 1024)
                    .unwrap();
                let data = common::pattern(TOTAL, 3);
                let written = match peer.write(&data).timeout(Duration::from_millis(300)).await {
                    Ok(()) => TOTAL,
                    Err(event::SocketError::WriteTimeout { written, .. }) => written,
                    Err(e) => panic!("write: {e}"),
                };
                drop(peer);
                event::sleep(keep_loop).await;
                written
            });
            let start = Instant::now();
            drop(lp);
            done_tx.send((written, start.elapsed())).unwrap();
        });
        (addr_rx.recv().unwrap().into(), done_rx)
    }

    fn assert_whole_or_reset(ending: &Ending, written: usize) {
        match *ending {
            Ending::Eof(got) => assert_eq!(
                got, written,
                "a clean end of stream after {got} of {written} bytes counted as written"
            ),
            Ending::Reset(got) => assert!(got <= written),
        }
    }

    /// A server that writes until it stalls and drops the socket (linger timeout `linger`, loop
    /// kept `keep` after), and a client that starts reading after `wait`: how its stream ended, and
    /// how many bytes the server counted as written.
    fn late_reader(linger: Duration, keep: Duration, wait: Duration) -> (Ending, usize) {
        let (addr, done) = serve_then_drop(linger, keep);
        let client = slow_client(addr);
        std::thread::sleep(wait);
        let ending = read_all(client, &common::pattern(TOTAL, 3));
        let (written, _) = done.recv().unwrap();
        (ending, written)
    }

    #[test]
    fn a_socket_dropped_mid_write_delivers_every_written_byte_or_resets() {
        // The peer starts reading only after the linger timeout has passed.
        let (ending, written) = late_reader(
            Duration::from_millis(500),
            Duration::from_secs(3),
            Duration::from_secs(2),
        );
        assert!(
            written > 0 && written < TOTAL,
            "the write should have stalled"
        );
        assert_whole_or_reset(&ending, written);
    }

    #[test]
    fn a_late_reader_within_the_linger_timeout_gets_every_byte() {
        let (ending, written) = late_reader(
            Duration::from_secs(30),
            Duration::from_secs(2),
            Duration::from_secs(1),
        );
        match ending {
            Ending::Eof(got) => assert_eq!(got, written),
            Ending::Reset(got) => panic!("reset after {got} of {written} bytes"),
        }
    }

    #[test]
    fn dropping_the_loop_with_bytes_in_flight_is_prompt_and_never_truncates_silently() {
        // A peer that takes nothing: the dropped loop gives up after the linger timeout.
        let (addr, done) = serve_then_drop(Duration::from_millis(300), Duration::ZERO);
        let client = slow_client(addr);
        let (written, teardown) = done.recv().unwrap();
        assert!(
            teardown < Duration::from_millis(1000),
            "dropping the loop took {teardown:?}"
        );
        let ending = read_all(client, &common::pattern(TOTAL, 3));
        assert_whole_or_reset(&ending, written);
    }

    #[test]
    fn a_drain_deadline_bounds_the_bytes_still_on_their_way() {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let lp = EventLoop::builder()
                .linger_timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let (written, drained_in) = lp.block_on(async move {
                let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
                addr_tx.send(server.local_address()).unwrap();
                let peer = server.accept().await.unwrap();
                socket2::SockRef::from(&peer)
                    .set_send_buffer_size(32 * 1024)
                    .unwrap();
                let shutdown = event::Shutdown::new();
                let written = std::rc::Rc::new(std::cell::Cell::new(0));
                let w = written.clone();
                shutdown.spawn(async move {
                    let data = common::pattern(TOTAL, 3);
                    if let Err(event::SocketError::WriteTimeout { written, .. }) =
                        peer.write(&data).timeout(Duration::from_millis(300)).await
                    {
                        w.set(written);
                    }
                });
                event::sleep(Duration::from_millis(500)).await;
                let start = Instant::now();
                shutdown.drain(Duration::from_millis(500)).await;
                (written.get(), start.elapsed())
            });
            let start = Instant::now();
            drop(lp);
            done_tx
                .send((written, drained_in, start.elapsed()))
                .unwrap();
        });
        let client = slow_client(addr_rx.recv().unwrap().into());
        let (written, drained_in, teardown) = done_rx.recv().unwrap();
        assert!(written > 0, "the write should have stalled");
        assert!(
            drained_in < Duration::from_millis(900) && teardown < Duration::from_millis(300),
            "a 500 ms drain took {drained_in:?}, then dropping the loop {teardown:?}"
        );
        let ending = read_all(client, &common::pattern(TOTAL, 3));
        assert_whole_or_reset(&ending, written);
    }
}
