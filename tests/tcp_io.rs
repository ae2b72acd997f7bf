//! TCP reads and writes: native and futures-io reads and writes, owned and uninitialised
//! buffers, half-close, stream edges and many streams at once. One module per behaviour (each
//! was its own test binary).

mod common;

mod tcp_read {
    use crate::common;

    use std::time::{Duration, Instant};

    use event::{Socket, SocketError};

    #[test]
    fn read_honours_max_bytes() {
        common::run(async {
            let (a, b) = common::pair().await;
            a.write(&[7u8; 100]).await.unwrap();
            let first = b.read(10).await.unwrap();
            assert_eq!(first.len(), 10);
            let rest = common::read_exact(&b, 90).await.unwrap();
            assert_eq!(rest, vec![7u8; 90]);
        });
    }

    #[test]
    fn read_into_fills_the_callers_buffer() {
        common::run(async {
            let (a, b) = common::pair().await;
            a.write(b"abcdef").await.unwrap();
            let mut buf = [0u8; 4];
            let n = b.read_into(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &b"abcdef"[..n]);
            assert!(n <= 4);
            assert_eq!(b.read_into(&mut []).await.unwrap(), 0);
        });
    }

    #[test]
    fn read_times_out_and_socket_stays_usable() {
        common::run(async {
            let (a, b) = common::pair().await;
            let start = Instant::now();
            let err = b
                .read(10)
                .timeout(Duration::from_millis(30))
                .await
                .unwrap_err();
            assert!(matches!(err, SocketError::Timeout { .. }), "{err:?}");
            assert!(start.elapsed() >= Duration::from_millis(30));
            // Nothing was consumed, and the same socket reads what comes next.
            a.write(b"later").await.unwrap();
            assert_eq!(common::read_exact(&b, 5).await.unwrap(), b"later");
        });
    }

    #[test]
    fn socket_read_timeout_setting_applies_to_every_read() {
        let lp = event::EventLoop::new().unwrap();
        lp.block_on(async {
            let (a, b) = common::pair().await;
            b.set_read_timeout(Some(Duration::from_millis(10)));
            assert_eq!(b.read_timeout(), Some(Duration::from_millis(10)));
            for _ in 0..3 {
                assert!(b.read(1).await.unwrap_err().is_timeout());
            }
            // A read that succeeds cancels its timer: thousands leave none behind.
            for i in 0..2000u32 {
                a.write(&i.to_le_bytes()).await.unwrap();
                common::read_exact(&b, 4).await.unwrap();
            }
        });
        assert_eq!(lp.stats().timers, 0, "no timer leaked per operation");
    }

    #[test]
    fn end_of_stream_is_connection_closed() {
        common::run(async {
            let (a, b) = common::pair().await;
            a.write(b"last words").await.unwrap();
            a.close();
            assert_eq!(common::read_exact(&b, 10).await.unwrap(), b"last words");
            assert!(matches!(
                b.read(10).await,
                Err(SocketError::ConnectionClosed)
            ));
            // And it stays closed.
            assert!(matches!(
                b.read(10).await,
                Err(SocketError::ConnectionClosed)
            ));
        });
    }

    #[test]
    fn peer_reset_is_a_read_error_for_that_connection_only() {
        common::run(async {
            let (a, b) = common::pair().await;
            let (c, d) = common::pair().await;
            // SO_LINGER 0 makes close send RST.
            socket2::SockRef::from(&std_fd(&a))
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            b.write(b"unread").await.unwrap();
            event::sleep(Duration::from_millis(10)).await;
            a.close();
            let err = loop {
                match b.read(100).await {
                    Ok(_) => continue,
                    Err(e) => break e,
                }
            };
            assert!(
                matches!(&err, SocketError::Read { source, .. } if source.kind() == std::io::ErrorKind::ConnectionReset)
                    || matches!(err, SocketError::ConnectionClosed),
                "{err:?}"
            );
            // The other connection is untouched.
            c.write(b"fine").await.unwrap();
            assert_eq!(common::read_exact(&d, 4).await.unwrap(), b"fine");
        });
    }

    /// A borrowed view of the socket's descriptor, for setting options the API does not expose.
    fn std_fd(s: &Socket) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        s.as_fd()
    }

    #[test]
    fn data_after_urgent_data_is_still_read() {
        // A read stops short at TCP's urgent mark with data queued behind it: the short-read
        // shortcut must not make the next read wait for an edge that never comes.
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address().to_std();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let peer = std::thread::spawn(move || {
                let s = std::net::TcpStream::connect(addr).unwrap();
                let sock = socket2::SockRef::from(&s);
                sock.send(b"hello").unwrap();
                sock.send_out_of_band(b"X").unwrap();
                sock.send(b"world").unwrap();
                // Keep the connection open (no FIN, so no later edge) until the reader is done.
                let _ = done_rx.recv_timeout(Duration::from_secs(10));
            });
            let s = server.accept().await.unwrap();
            event::sleep(Duration::from_millis(50)).await;
            let mut got = Vec::new();
            while !got.ends_with(b"world") {
                let bytes = s
                    .read(100)
                    .timeout(Duration::from_secs(2))
                    .await
                    .expect("data after the urgent mark is readable");
                got.extend(bytes);
            }
            assert!(got.starts_with(b"hello"));
            done_tx.send(()).unwrap();
            peer.join().unwrap();
        });
    }

    #[test]
    fn read_buf_appends_and_reuses_the_vector() {
        common::run(async {
            let (a, b) = common::pair().await;
            let mut buf = b"kept:".to_vec();
            a.write(b"abc").await.unwrap();
            let n = b.read_buf(&mut buf, 100).await.unwrap();
            assert_eq!(n, 3);
            assert_eq!(buf, b"kept:abc");
            // max_bytes is honoured, and the vector's allocation is reused after clear().
            a.write(&[9u8; 50]).await.unwrap();
            buf.clear();
            buf.reserve(64);
            let capacity = buf.capacity();
            let n = b.read_buf(&mut buf, 20).await.unwrap();
            assert_eq!((n, buf.len()), (20, 20));
            assert_eq!(buf.capacity(), capacity);
            assert!(matches!(b.read_buf(&mut buf, 0).await, Ok(0)));
        });
    }

    /// A peer (a std thread) sends `sent`, then waits for what comes back; the socket reads
    /// `read` bytes of it and is dropped. Returns what the peer's next read saw.
    async fn peer_outcome_after_drop(sent: &'static [u8], read: usize) -> std::io::Result<usize> {
        use std::io::{Read, Write};
        let server = common::listen_local();
        let addr: std::net::SocketAddr = server.local_address().into();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(sent).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = [0u8; 16];
            s.read(&mut buf)
        });
        let conn = server.accept().await.unwrap();
        assert_eq!(
            common::read_exact(&conn, read).await.unwrap(),
            &sent[..read]
        );
        // Let the rest arrive (on io_uring: into the driver's inbox), then drop the socket.
        event::sleep(Duration::from_millis(100)).await;
        drop(conn);
        // On io_uring the descriptor is closed by a `Close` that goes with the loop's next wait:
        // let the loop turn before this thread blocks on the peer.
        event::yield_now().await;
        peer.join().unwrap()
    }

    /// Dropping a socket whose received bytes were never read resets the connection (RST, as the
    /// kernel does for a close with unread data), on either driver: the peer learns that what it
    /// sent was not consumed, instead of seeing an orderly end of stream. On io_uring the bytes
    /// have already left the kernel for the driver's inbox, so the driver asks for the reset.
    #[test]
    fn dropping_a_socket_with_unread_bytes_resets_the_connection() {
        let outcome = common::run(peer_outcome_after_drop(b"hello, unread", 1));
        assert!(
            matches!(&outcome, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "the peer should see a reset, got {outcome:?}"
        );
    }

    /// Dropping a socket that read everything it was sent closes it in order: the peer sees end
    /// of stream, not a reset (the counterpart of the test above).
    #[test]
    fn dropping_a_socket_that_read_everything_closes_in_order() {
        let outcome = common::run(peer_outcome_after_drop(b"hello", 5));
        assert!(
            matches!(outcome, Ok(0)),
            "the peer should see end of stream, got {outcome:?}"
        );
    }

    /// The same with the unread bytes on their way when the socket is dropped: another socket is
    /// dropped in the same turn first (on io_uring its close runs the ring's pending work, which
    /// can move this socket's bytes into a completion not handled yet). Still a reset.
    #[test]
    fn dropping_a_socket_resets_even_when_its_unread_bytes_are_still_on_their_way() {
        use std::io::{Read, Write};
        common::run(async {
            let server = common::listen_local();
            let addr: std::net::SocketAddr = server.local_address().into();
            let peer = |first: &'static [u8], later: &'static [u8]| {
                std::thread::spawn(move || {
                    let mut s = std::net::TcpStream::connect(addr).unwrap();
                    s.write_all(first).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                    s.write_all(later).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                    let mut buf = [0u8; 16];
                    s.read(&mut buf).map_err(|e| e.kind())
                })
            };
            let y = peer(b"h", b"ello");
            let conn_y = server.accept().await.unwrap();
            let x = peer(b"", b"");
            let conn_x = server.accept().await.unwrap();
            // X has a receive armed (a read that gave up), Y has read its first byte.
            let gave_up = conn_x.read(1).timeout(Duration::from_millis(1)).await;
            assert!(gave_up.unwrap_err().is_timeout());
            assert_eq!(conn_y.read(1).await.unwrap(), b"h");
            // Without turning the loop, let "ello" reach Y's socket; then drop X, then Y.
            std::thread::sleep(Duration::from_millis(300));
            drop(conn_x);
            drop(conn_y);
            // The closes go with the loop's next wait (io_uring): let it turn before blocking.
            event::yield_now().await;
            let (y, _x) = (y.join().unwrap(), x.join().unwrap());
            assert_eq!(
                y,
                Err(std::io::ErrorKind::ConnectionReset),
                "peer Y should see a reset"
            );
        });
    }
}

mod tcp_read_uninit {
    //! `Socket::poll_read_uninit`: reads into uninitialised memory honour the buffer's length, add
    //! up to what the peer sent, end with `Ok(0)` at end of stream and time out like the trait
    //! reads. (The bytes themselves are checked through hyper's `ReadBuf` in event-hyper's
    //! `tests/server.rs` (`io_reads_into_uninit`), which can look at them without `unsafe`.)

    use crate::common;

    use std::future::poll_fn;
    use std::io;
    use std::mem::MaybeUninit;
    use std::time::Duration;

    #[test]
    fn counts_add_up_to_what_was_sent_then_end_of_stream() {
        common::run(async {
            let (client, accepted) = common::pair().await;
            const TOTAL: usize = 300 * 1024;
            let writer = event::spawn(async move {
                let bytes = vec![7u8; TOTAL];
                client.write(&bytes).await.unwrap();
                client.shutdown_write().unwrap();
                client
            });
            let mut buf = vec![MaybeUninit::<u8>::uninit(); 1500];
            let mut total = 0;
            loop {
                let n = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
                    .await
                    .unwrap();
                assert!(n <= buf.len());
                if n == 0 {
                    break;
                }
                total += n;
            }
            assert_eq!(total, TOTAL);
            // End of stream stays end of stream.
            assert_eq!(
                poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
                    .await
                    .unwrap(),
                0
            );
            drop(writer.await.unwrap());
        });
    }

    #[test]
    fn an_empty_buffer_reads_nothing_at_once() {
        common::run(async {
            let (_client, accepted) = common::pair().await;
            let mut buf: [MaybeUninit<u8>; 0] = [];
            let n = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
                .await
                .unwrap();
            assert_eq!(n, 0);
        });
    }

    #[test]
    fn a_silent_peer_times_out_with_the_read_timeout() {
        common::run(async {
            let (_client, accepted) = common::pair().await;
            accepted.set_read_timeout(Some(Duration::from_millis(50)));
            let mut buf = [MaybeUninit::<u8>::uninit(); 64];
            let err = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        });
    }
}

mod tcp_write {
    use crate::common;

    use std::rc::Rc;
    use std::time::Duration;

    use event::SocketError;

    #[test]
    fn eight_mib_in_one_write_arrives_intact_while_the_peer_reads_slowly() {
        common::run(async {
            let (a, b) = common::pair().await;
            let data = common::pattern(8 << 20, 42);
            let expected = data.clone();
            let reader = event::spawn(async move {
                let mut got = Vec::with_capacity(8 << 20);
                let mut reads = 0u32;
                while got.len() < 8 << 20 {
                    got.extend(b.read(64 * 1024).await.unwrap());
                    reads += 1;
                    if reads.is_multiple_of(16) {
                        // Slow reader: the writer has to wait for room many times.
                        event::sleep(Duration::from_millis(1)).await;
                    }
                }
                got
            });
            a.write(&data).await.unwrap();
            let got = reader.await.unwrap();
            assert_eq!(got.len(), expected.len());
            assert!(got == expected, "bytes differ");
        });
    }

    #[test]
    fn write_timeout_reports_bytes_written_and_socket_stays_usable() {
        common::run(async {
            let (a, b) = common::pair().await;
            // The peer does not read: the kernel buffers fill, then the write must wait.
            let data = common::pattern(64 << 20, 7);
            let err = a
                .write(&data)
                .timeout(Duration::from_millis(50))
                .await
                .unwrap_err();
            let written = match err {
                SocketError::WriteTimeout { written, .. } => written,
                other => panic!("expected WriteTimeout, got {other:?}"),
            };
            assert!(written > 0 && written < data.len(), "written {written}");
            // Everything reported as written reaches the peer, in order, and the rest can follow.
            let b = Rc::new(b);
            let reader = {
                let b = b.clone();
                let n = data.len();
                event::spawn(async move { common::read_exact(&b, n).await.unwrap() })
            };
            a.write(&data[written..]).await.unwrap();
            let got = reader.await.unwrap();
            assert!(got == data, "stream is intact across the timed-out write");
        });
    }

    #[test]
    fn read_and_write_concurrently_from_two_tasks() {
        common::run(async {
            let (a, b) = common::pair().await;
            let a = Rc::new(a);
            let echo = event::spawn(async move {
                // b echoes everything back.
                while let Ok(bytes) = b.read(65536).await {
                    b.write(&bytes).await.unwrap();
                }
            });
            let data = common::pattern(4 << 20, 3);
            let reader = {
                let a = a.clone();
                let n = data.len();
                event::spawn(async move { common::read_exact(&a, n).await.unwrap() })
            };
            a.write(&data).await.unwrap();
            assert!(reader.await.unwrap() == data);
            drop(a);
            echo.await.unwrap();
        });
    }

    #[test]
    fn writing_to_a_reset_peer_is_an_error_not_sigpipe() {
        // Restore the default SIGPIPE action (Rust's runtime ignores it), so a write(2) to a closed
        // peer would kill this process. The library must use MSG_NOSIGNAL.
        // SAFETY: setting a signal disposition to SIG_DFL has no memory-safety requirements.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        common::run(async {
            let (a, b) = common::pair().await;
            drop(b);
            let chunk = vec![1u8; 64 * 1024];
            let mut result = Ok(());
            for _ in 0..100 {
                result = a.write(&chunk).await;
                if result.is_err() {
                    break;
                }
                event::sleep(Duration::from_millis(1)).await;
            }
            match result {
                Err(SocketError::Write { source, .. }) => assert!(
                    matches!(
                        source.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ),
                    "{source:?}"
                ),
                other => panic!("expected a write error, got {other:?}"),
            }
        });
    }

    #[test]
    fn write_timeout_bounds_a_stall_not_a_slow_steady_reader() {
        common::run(async {
            let (a, b) = common::pair().await;
            let data = common::pattern(24 << 20, 21);
            let n = data.len();
            // The reader takes about 256 KiB, then pauses 20 ms, over and over: the whole write
            // takes longer than the timeout, but never stalls for that long.
            let reader = event::spawn(async move {
                let mut got = 0;
                while got < n {
                    let mut burst = 0;
                    while burst < 256 * 1024 && got < n {
                        let chunk = b.read(64 * 1024).await.unwrap().len();
                        burst += chunk;
                        got += chunk;
                    }
                    event::sleep(Duration::from_millis(20)).await;
                }
                got
            });
            let start = std::time::Instant::now();
            a.write(&data)
                .timeout(Duration::from_millis(300))
                .await
                .unwrap();
            assert!(
                start.elapsed() > Duration::from_millis(300),
                "the write outlasted its timeout"
            );
            assert_eq!(reader.await.unwrap(), n);
        });
    }
}

mod tcp_write_owned {
    //! `Socket::write_owned`: the vector is handed over; an empty one comes back on success, the
    //! same one, unchanged, on an error or a timeout.

    use crate::common;

    use std::rc::Rc;
    use std::time::Duration;

    use event::SocketError;

    #[test]
    fn write_owned_sends_every_byte_and_returns_an_empty_vector() {
        common::run(async {
            let (a, b) = common::pair().await;
            let data = common::pattern(8 << 20, 11);
            let expected = data.clone();
            let reader = event::spawn(async move {
                let mut got = Vec::with_capacity(8 << 20);
                let mut reads = 0u32;
                while got.len() < 8 << 20 {
                    got.extend(b.read(64 * 1024).await.unwrap());
                    reads += 1;
                    if reads.is_multiple_of(16) {
                        event::sleep(Duration::from_millis(1)).await;
                    }
                }
                got
            });
            let (result, back) = a.write_owned(data).await;
            result.unwrap();
            assert!(
                back.is_empty(),
                "an empty vector comes back for the next message"
            );
            let got = reader.await.unwrap();
            assert!(got == expected, "bytes differ");
        });
    }

    #[test]
    fn write_owned_of_nothing_completes_at_once() {
        common::run(async {
            let (a, _b) = common::pair().await;
            let (result, back) = a.write_owned(Vec::with_capacity(100)).await;
            result.unwrap();
            assert!(back.is_empty());
            assert_eq!(back.capacity(), 100, "the same vector comes back");
        });
    }

    #[test]
    fn write_owned_timeout_reports_bytes_written_and_returns_the_vector() {
        common::run(async {
            let (a, b) = common::pair().await;
            // The peer does not read. Write until a write times out: every write before it counts
            // whole, the one that times out says how much of its vector went out (on io_uring
            // none: it waits for the send before it) and gives the vector back unchanged.
            let chunk = common::pattern(4 << 20, 5);
            let mut sent: Vec<u8> = Vec::new();
            let (written, back) = loop {
                let (result, back) = a
                    .write_owned(chunk.clone())
                    .timeout(Duration::from_millis(50))
                    .await;
                match result {
                    Ok(()) => {
                        assert!(back.is_empty());
                        sent.extend_from_slice(&chunk);
                    }
                    Err(SocketError::WriteTimeout { written, .. }) => break (written, back),
                    Err(other) => panic!("expected WriteTimeout, got {other:?}"),
                }
                assert!(
                    sent.len() < 1 << 30,
                    "a peer that never reads must stall the writer"
                );
            };
            assert!(
                back == chunk,
                "the timed-out write's vector comes back whole"
            );
            assert!(written < chunk.len(), "written {written}");
            sent.extend_from_slice(&chunk[..written]);
            // Exactly what was reported went out: the rest completes the stream.
            let b = Rc::new(b);
            let total = sent.len() + (chunk.len() - written);
            let reader = {
                let b = b.clone();
                event::spawn(async move { common::read_exact(&b, total).await.unwrap() })
            };
            let (result, _) = a.write_owned(back[written..].to_vec()).await;
            result.unwrap();
            let got = reader.await.unwrap();
            sent.extend_from_slice(&chunk[written..]);
            assert!(got == sent, "stream is intact across the timed-out write");
        });
    }

    #[test]
    fn write_owned_to_a_reset_peer_fails_and_returns_the_vector() {
        common::run(async {
            let (a, b) = common::pair().await;
            // Unread data makes the close a reset.
            a.write(b"unread").await.unwrap();
            event::sleep(Duration::from_millis(20)).await;
            drop(b);
            event::sleep(Duration::from_millis(20)).await;
            let data = common::pattern(1 << 20, 9);
            let mut last = None;
            // The first write may still be taken by the kernel; a later one must fail.
            for _ in 0..50 {
                let (result, back) = a.write_owned(data.clone()).await;
                if let Err(e) = result {
                    assert!(
                        back == data,
                        "a failed write gives the vector back unchanged"
                    );
                    last = Some(e);
                    break;
                }
                assert!(back.is_empty());
                event::sleep(Duration::from_millis(5)).await;
            }
            match last {
                Some(SocketError::Write { .. }) => {}
                other => panic!("expected a write error, got {other:?}"),
            }
        });
    }
}

mod tcp_io_traits {
    //! The futures-io traits on `Socket`: end of stream is `Ok(0)`, default timeouts apply,
    //! vectored writes send every slice.
    use crate::common;

    use std::future::poll_fn;
    use std::io::IoSlice;
    use std::pin::Pin;
    use std::time::{Duration, Instant};

    use futures_io::{AsyncRead, AsyncWrite};

    async fn trait_read(mut socket: &event::Socket, buf: &mut [u8]) -> std::io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, buf)).await
    }

    #[test]
    fn trait_read_honours_the_default_timeout_and_stays_usable() {
        common::run(async {
            let (a, b) = common::pair().await;
            b.set_read_timeout(Some(Duration::from_millis(40)));
            let mut buf = [0u8; 16];
            let start = Instant::now();
            let err = trait_read(&b, &mut buf).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
            assert!(start.elapsed() >= Duration::from_millis(40));
            a.write(b"later").await.unwrap();
            let n = trait_read(&b, &mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"later");
            // End of stream is Ok(0) in the trait.
            drop(a);
            assert_eq!(trait_read(&b, &mut buf).await.unwrap(), 0);
        });
    }

    #[test]
    fn vectored_write_sends_every_slice_in_order() {
        common::run(async {
            let (mut a, b) = common::pair().await;
            let parts: [&[u8]; 3] = [b"head ", b"body ", b"tail"];
            let slices = parts.map(IoSlice::new);
            let n = poll_fn(|cx| Pin::new(&mut a).poll_write_vectored(cx, &slices))
                .await
                .unwrap();
            assert_eq!(n, 14);
            assert_eq!(common::read_exact(&b, 14).await.unwrap(), b"head body tail");
        });
    }

    #[test]
    fn vectored_write_of_more_slices_than_iov_max_writes_a_part() {
        common::run(async {
            let (mut a, b) = common::pair().await;
            let bytes: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
            let slices: Vec<IoSlice<'_>> = bytes.chunks(1).map(IoSlice::new).collect();
            let n = poll_fn(|cx| Pin::new(&mut a).poll_write_vectored(cx, &slices))
                .await
                .unwrap();
            // epoll: one sendmsg takes at most IOV_MAX (1024) slices; io_uring: the slices are
            // gathered into one driver buffer. Either way part or all goes out, never an error.
            assert!(n > 0 && n <= bytes.len(), "wrote {n}");
            assert_eq!(common::read_exact(&b, n).await.unwrap(), bytes[..n]);
        });
    }
}

mod tcp_trait_write_delivery {
    //! The futures-io writer on either driver: a byte that `poll_write` reported as written reaches
    //! the peer, in order, whatever the caller does next (a native half-close, dropping the socket,
    //! a flush that timed out followed by more writes). On epoll `poll_write` puts the bytes in the
    //! kernel; on io_uring it is write-behind (the bytes sit in a driver buffer with a send in
    //! flight), and these tests pin down that the difference is not observable by the peer. (The
    //! exception on both drivers: a socket dropped with received bytes nobody read resets the
    //! connection, which discards what the kernel has not delivered; these tests read everything.)
    use crate::common;

    use std::future::poll_fn;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::time::Duration;

    use event::{Socket, SocketError};
    use futures_io::AsyncWrite;

    /// Reads until end of stream (or a read error, which ends the stream too); gives up after 20 s.
    async fn read_to_end(socket: &Socket) -> Vec<u8> {
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match socket.read(256 * 1024).timeout(left).await {
                Ok(bytes) => out.extend(bytes),
                Err(SocketError::ConnectionClosed) | Err(SocketError::Read { .. }) => return out,
                Err(e) => panic!("reading to end of stream: {e:?} after {} bytes", out.len()),
            }
        }
    }

    /// One `poll_write` through the futures-io trait.
    async fn trait_write(socket: &Socket, buf: &[u8]) -> std::io::Result<usize> {
        let mut s = socket;
        poll_fn(|cx| Pin::new(&mut s).poll_write(cx, buf)).await
    }

    /// Writes all of `data` through the trait, without flushing.
    async fn trait_write_all(socket: &Socket, data: &[u8]) {
        let mut off = 0;
        while off < data.len() {
            off += trait_write(socket, &data[off..]).await.unwrap();
        }
    }

    /// A native `shutdown_write` right after trait writes: the peer must read every byte, then EOF
    /// (the native API documents that the peer gets everything written before the half-close).
    #[test]
    fn trait_write_then_native_shutdown_write_delivers_every_byte() {
        common::run(async {
            for len in [5usize, 100_000, 1_000_000] {
                let (a, b) = common::pair().await;
                let data = common::pattern(len, len as u64);
                let b = Rc::new(b);
                let reader = {
                    let b = b.clone();
                    event::spawn(async move { read_to_end(&b).await })
                };
                trait_write_all(&a, &data).await;
                a.shutdown_write().unwrap();
                let got = reader.await.unwrap();
                assert_eq!(
                    got.len(),
                    data.len(),
                    "{len} bytes written through the trait, then shutdown_write: the peer got {}",
                    got.len()
                );
                assert!(got == data, "bytes differ");
            }
        });
    }

    /// Dropping the socket right after trait writes, while the peer is slow: the peer must get
    /// every byte `poll_write` accepted, then end of stream (on epoll those bytes are in the
    /// kernel's send buffer and the close sends them before its FIN).
    #[test]
    fn trait_write_then_drop_delivers_every_accepted_byte() {
        common::run(async {
            // Keep the kernel's buffers small so that the writer stalls early.
            let (a, b) = common::small_buffer_pair().await;
            let data = common::pattern(16 << 20, 11);
            let mut accepted = 0;
            // The peer does not read yet: write until a write stays pending (the writer stalled).
            while accepted < data.len() {
                match event::timeout(
                    Duration::from_millis(300),
                    trait_write(&a, &data[accepted..]),
                )
                .await
                {
                    Ok(r) => accepted += r.unwrap(),
                    Err(_) => break,
                }
            }
            assert!(accepted > 0 && accepted < data.len(), "accepted {accepted}");
            drop(a);
            let got = read_to_end(&b).await;
            assert_eq!(
                got.len(),
                accepted,
                "poll_write accepted {accepted} bytes, then the socket was dropped: the peer got {}",
                got.len()
            );
            assert!(got == data[..accepted], "bytes differ");
        });
    }

    /// A write that times out (the socket's default write timeout, through the trait) and a later
    /// write that succeeds: the stream the peer reads must be every accepted byte in order, then
    /// the later bytes. A gap (accepted bytes silently dropped, later bytes delivered) is
    /// corruption.
    #[test]
    fn trait_write_timeout_then_more_writes_leave_no_gap() {
        common::run(async {
            let (a, b) = common::small_buffer_pair().await;
            a.set_write_timeout(Some(Duration::from_millis(100)));
            let data = common::pattern(16 << 20, 12);
            let mut accepted = 0;
            let err = loop {
                match trait_write(&a, &data[accepted..]).await {
                    Ok(n) => accepted += n,
                    Err(e) => break e,
                }
                assert!(
                    accepted < data.len(),
                    "the peer does not read: the writer must stall"
                );
            };
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err:?}");
            // Now the peer reads, and the writer goes on with more bytes, then closes its side.
            let b = Rc::new(b);
            let reader = {
                let b = b.clone();
                event::spawn(async move { read_to_end(&b).await })
            };
            a.set_write_timeout(None);
            let tail = common::pattern(10_000, 13);
            let mut off = 0;
            let mut later_write_failed = false;
            while off < tail.len() {
                match trait_write(&a, &tail[off..]).await {
                    Ok(n) => off += n,
                    Err(_) => {
                        later_write_failed = true;
                        break;
                    }
                }
            }
            let mut s = &a;
            let closed = poll_fn(|cx| Pin::new(&mut s).poll_close(cx)).await;
            if closed.is_err() {
                later_write_failed = true;
            }
            let got = reader.await.unwrap();
            if later_write_failed {
                // Refusing to go on after losing bytes is acceptable; delivering a gap is not.
                assert!(got.len() <= accepted && got == data[..got.len()]);
                return;
            }
            let mut expected = data[..accepted].to_vec();
            expected.extend_from_slice(&tail);
            assert_eq!(
                got.len(),
                expected.len(),
                "accepted {accepted} bytes before the timeout and {} after it; the peer got {}",
                tail.len(),
                got.len()
            );
            assert!(got == expected, "bytes differ");
        });
    }

    /// A flush after trait writes waits until the bytes are with the kernel; `poll_close` then
    /// delivers them all and the peer sees end of stream.
    #[test]
    fn trait_write_flush_close_delivers_everything() {
        common::run(async {
            let (a, b) = common::pair().await;
            let data = common::pattern(3 << 20, 14);
            let b = Rc::new(b);
            let reader = {
                let b = b.clone();
                event::spawn(async move { read_to_end(&b).await })
            };
            trait_write_all(&a, &data).await;
            let mut s = &a;
            poll_fn(|cx| Pin::new(&mut s).poll_flush(cx)).await.unwrap();
            poll_fn(|cx| Pin::new(&mut s).poll_close(cx)).await.unwrap();
            let got = reader.await.unwrap();
            assert!(got == data, "got {} of {} bytes", got.len(), data.len());
        });
    }

    /// The socket's write timeout bounds a stall, not a slow but steady reader, for trait writes as
    /// for `Socket::write`: a peer that keeps reading a little at a time never makes `poll_write`
    /// or `poll_flush` time out, even when one write-behind buffer takes longer than the timeout to
    /// drain.
    #[test]
    fn trait_write_timeout_bounds_a_stall_not_a_slow_steady_reader() {
        common::run(async {
            let (a, b) = common::small_buffer_pair().await;
            a.set_write_timeout(Some(Duration::from_millis(250)));
            let data = common::pattern(1 << 20, 15);
            let n = data.len();
            // The reader takes 8 KiB every 10 ms (about 800 KB/s): never a stall of 250 ms.
            let reader = event::spawn(async move {
                let mut got = Vec::new();
                while got.len() < n {
                    got.extend(b.read(8 * 1024).await.unwrap());
                    event::sleep(Duration::from_millis(10)).await;
                }
                got
            });
            let mut off = 0;
            while off < n {
                match trait_write(&a, &data[off..]).await {
                    Ok(k) => off += k,
                    Err(e) => panic!("trait write failed after {off} bytes: {e:?}"),
                }
            }
            let mut s = &a;
            poll_fn(|cx| Pin::new(&mut s).poll_flush(cx))
                .await
                .unwrap_or_else(|e| panic!("flush failed: {e:?}"));
            let got = reader.await.unwrap();
            assert!(got == data);
        });
    }
}

mod tcp_trait_write_waits_for_a_native_write {
    //! `AsyncWrite` calls on `&Socket` from one task while a native write from another task is
    //! mid-way: the trait calls wait for the turn, so the native write goes out whole and the
    //! trait bytes follow it, unmixed; nobody hangs. And the other way round: a native write that
    //! comes while a task is in a trait `write_all` loop takes its place between two calls, never
    //! inside one.

    use crate::common;

    use std::io::Read as _;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::sync::mpsc;
    use std::time::Duration;

    use event::{Socket, SocketAddress};
    use futures_io::AsyncWrite;

    const NATIVE: usize = 4 * 1024 * 1024;
    const TRAIT: usize = 512 * 1024;

    /// `write_all` then `flush` through the futures-io trait on `&Socket`.
    async fn trait_write_all(socket: &Socket, mut buf: &[u8]) -> std::io::Result<()> {
        let mut w = socket;
        while !buf.is_empty() {
            let n = std::future::poll_fn(|cx| Pin::new(&mut w).poll_write(cx, buf)).await?;
            assert!(n > 0);
            buf = &buf[n..];
        }
        std::future::poll_fn(|cx| Pin::new(&mut w).poll_flush(cx)).await
    }

    fn slow_peer(addr: std::net::SocketAddr) -> std::net::TcpStream {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(32 * 1024).unwrap();
        s.connect(&addr.into()).unwrap();
        let s = std::net::TcpStream::from(s);
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    #[test]
    fn trait_writes_wait_for_a_native_write_mid_way_and_follow_it_whole() {
        let (addr_tx, addr_rx) = mpsc::channel();
        let server = std::thread::spawn(move || {
            common::run(async move {
                let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
                addr_tx.send(listener.local_address()).unwrap();
                let peer = Rc::new(listener.accept().await.unwrap());
                socket2::SockRef::from(&*peer)
                    .set_send_buffer_size(32 * 1024)
                    .unwrap();
                let native = {
                    let peer = peer.clone();
                    event::spawn(async move { peer.write(&common::pattern(NATIVE, 21)).await })
                };
                // The native write is mid-way (the peer reads slowly) when the trait calls begin.
                event::sleep(Duration::from_millis(50)).await;
                assert!(!native.is_finished(), "the native write should be mid-way");
                let traits = {
                    let peer = peer.clone();
                    event::spawn(async move {
                        trait_write_all(&peer, &common::pattern(TRAIT, 22)).await
                    })
                };
                let bound = Duration::from_secs(30);
                event::timeout(bound, native)
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                event::timeout(bound, traits)
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
            })
        });
        let mut client = slow_peer(addr_rx.recv().unwrap().into());
        // A slow start, so the native write is still going when the trait calls come.
        std::thread::sleep(Duration::from_millis(200));
        let mut got = vec![0; NATIVE + TRAIT];
        client.read_exact(&mut got).unwrap();
        assert!(
            got[..NATIVE] == common::pattern(NATIVE, 21)[..],
            "the native write was cut into by the trait writes"
        );
        assert!(
            got[NATIVE..] == common::pattern(TRAIT, 22)[..],
            "the trait bytes do not follow the native write whole"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_native_write_between_trait_calls_goes_out_whole() {
        // The trait loop's calls are 64 KiB at most each; the native write must land between two
        // of them, whole. The stream is: a prefix of the trait bytes, the native bytes whole, the
        // rest of the trait bytes.
        let (addr_tx, addr_rx) = mpsc::channel();
        let server = std::thread::spawn(move || {
            common::run(async move {
                let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
                addr_tx.send(listener.local_address()).unwrap();
                let peer = Rc::new(listener.accept().await.unwrap());
                socket2::SockRef::from(&*peer)
                    .set_send_buffer_size(32 * 1024)
                    .unwrap();
                let traits = {
                    let peer = peer.clone();
                    event::spawn(async move {
                        trait_write_all(&peer, &common::pattern(NATIVE, 31)).await
                    })
                };
                event::sleep(Duration::from_millis(50)).await;
                assert!(!traits.is_finished(), "the trait loop should be mid-way");
                let native = {
                    let peer = peer.clone();
                    event::spawn(async move { peer.write(&common::pattern(TRAIT, 32)).await })
                };
                let bound = Duration::from_secs(30);
                event::timeout(bound, traits)
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                event::timeout(bound, native)
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
            })
        });
        let mut client = slow_peer(addr_rx.recv().unwrap().into());
        std::thread::sleep(Duration::from_millis(200));
        let mut got = vec![0; NATIVE + TRAIT];
        client.read_exact(&mut got).unwrap();
        let trait_bytes = common::pattern(NATIVE, 31);
        let native = common::pattern(TRAIT, 32);
        // Where the native write starts: the first byte that departs from the trait bytes.
        let at = got
            .iter()
            .zip(&trait_bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(NATIVE);
        // The pattern may agree with the native bytes' first few by chance: find the true start.
        let start = (at.saturating_sub(8)..=at)
            .find(|&s| got[s..].starts_with(&native))
            .unwrap_or_else(|| panic!("the native write is not whole at {at}"));
        assert!(
            got[start + TRAIT..] == trait_bytes[start..],
            "the trait bytes do not resume after the native write"
        );
        server.join().unwrap();
    }
}

mod tcp_stream_edges {
    //! Edges of a stream that both drivers must handle alike (the io_uring driver implements them
    //! its own way): reads larger than the buffered bytes, small messages of many connections
    //! interleaved (they share the receive buffers on io_uring), end of stream and reset after
    //! data, a write with a zero timeout.
    use crate::common;

    use std::io::Write as _;
    use std::time::Duration;

    use event::{Socket, SocketError};

    /// `read(usize::MAX)` means "whatever is there": fine on a fresh socket and after a read that
    /// left bytes behind.
    #[test]
    fn read_with_usize_max_after_a_partial_read() {
        common::run(async {
            let (a, b) = common::pair().await;
            a.write(&[7u8; 100]).await.unwrap();
            let first = b.read(10).await.unwrap();
            assert_eq!(first.len(), 10);
            let mut rest = Vec::new();
            while rest.len() < 90 {
                rest.extend(b.read(usize::MAX).await.unwrap());
            }
            assert_eq!(rest, [7u8; 90]);
            // read_buf with an unbounded limit, again after a partial read.
            a.write(&[8u8; 100]).await.unwrap();
            let mut v = Vec::new();
            while v.len() < 10 {
                let want = 10 - v.len();
                b.read_buf(&mut v, want).await.unwrap();
            }
            let mut w = Vec::new();
            while w.len() < 90 {
                b.read_buf(&mut w, usize::MAX).await.unwrap();
            }
            assert_eq!(w, [8u8; 90]);
        });
    }

    /// Many connections exchanging small messages of varied sizes at once: every reply is exactly
    /// the request (on io_uring their receives pack into the same provided buffers).
    #[test]
    fn small_messages_of_many_connections_interleave_intact() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let mut handles = Vec::new();
            for c in 0..64u64 {
                handles.push(event::spawn(async move {
                    let s = Socket::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut x = c.wrapping_mul(0x9e3779b97f4a7c15) | 1;
                    for round in 0..150u64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let len = 1 + (x % 3000) as usize;
                        let msg = common::pattern(len, c * 1000 + round);
                        s.write(&msg).await.unwrap();
                        let back = common::read_exact(&s, len).await.unwrap();
                        assert!(back == msg, "connection {c} round {round}: reply differs");
                    }
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
        });
    }

    /// The peer sends, then closes: every byte, then end of stream, even when the reader starts
    /// late and reads in small pieces.
    #[test]
    fn end_of_stream_after_data_read_late_in_small_pieces() {
        common::run(async {
            let server = common::listen_local();
            let addr: std::net::SocketAddr = server.local_address().into();
            let data = common::pattern(2 << 20, 41);
            let sent = data.clone();
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.write_all(&sent).unwrap();
            });
            let conn = server.accept().await.unwrap();
            // The first byte arms the receive; then let the rest (and the FIN) arrive unread.
            let mut got = conn.read(1).await.unwrap();
            event::sleep(Duration::from_millis(300)).await;
            loop {
                match conn.read(1000).await {
                    Ok(b) => got.extend(b),
                    Err(SocketError::ConnectionClosed) => break,
                    Err(e) => panic!("after {} bytes: {e:?}", got.len()),
                }
            }
            assert!(got == data, "got {} of {} bytes", got.len(), data.len());
            // End of stream stays end of stream.
            assert!(matches!(
                conn.read(10).await,
                Err(SocketError::ConnectionClosed)
            ));
            peer.join().unwrap();
        });
    }

    /// The peer sends, then resets: the reader never hangs; it gets at most the bytes sent, in
    /// order, then an error or end of stream, and reads after that do not hang either.
    #[test]
    fn reset_after_data_ends_the_stream_without_hanging() {
        common::run(async {
            let server = common::listen_local();
            let addr: std::net::SocketAddr = server.local_address().into();
            let data = common::pattern(300_000, 42);
            let sent = data.clone();
            let peer = std::thread::spawn(move || {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                s.connect(&addr.into()).unwrap();
                let mut t: std::net::TcpStream = s.into();
                t.write_all(&sent).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                socket2::SockRef::from(&t)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(t);
            });
            let conn = server.accept().await.unwrap();
            event::sleep(Duration::from_millis(300)).await;
            let mut got = Vec::new();
            let end = loop {
                match conn.read(64 * 1024).timeout(Duration::from_secs(5)).await {
                    Ok(b) => got.extend(b),
                    Err(e) => break e,
                }
            };
            assert!(
                matches!(
                    end,
                    SocketError::Read { .. } | SocketError::ConnectionClosed
                ),
                "{end:?}"
            );
            assert!(got == data[..got.len()], "bytes differ");
            let again = conn.read(10).timeout(Duration::from_secs(5)).await;
            assert!(
                matches!(
                    again,
                    Err(SocketError::ConnectionClosed) | Err(SocketError::Read { .. })
                ),
                "{again:?}"
            );
            peer.join().unwrap();
            eprintln!(
                "reset after data: got {} of {} bytes, then {end:?}",
                got.len(),
                data.len()
            );
        });
    }

    /// Waits on the loop (without blocking it) for a message from a helper thread.
    async fn recv_from_thread<T>(rx: &std::sync::mpsc::Receiver<T>) -> T {
        loop {
            match rx.try_recv() {
                Ok(v) => return v,
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    event::sleep(Duration::from_millis(2)).await
                }
                Err(e) => panic!("helper thread: {e}"),
            }
        }
    }

    /// A write whose timeout has already run out at its first poll (a zero timeout) still ends at
    /// once, with `WriteTimeout` saying how many bytes went out, and exactly those bytes reach the
    /// peer. On io_uring the write's send may go out in part at submission, just before its
    /// cancellation is processed; the rest must not then be sent regardless, nor the write hang.
    /// The socket's buffers are filled first, then the (blocking, std) peer reads a little, so that
    /// there is room for part of a send only.
    #[test]
    fn write_with_a_zero_timeout_ends_and_reports_what_went_out() {
        use std::io::Read as _;
        common::run(async {
            for (round, drain) in [1_000usize, 10_000, 30_000, 60_000, 150_000]
                .into_iter()
                .enumerate()
            {
                let listener =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                        .unwrap();
                listener.set_recv_buffer_size(64 * 1024).unwrap();
                listener
                    .bind(
                        &"127.0.0.1:0"
                            .parse::<std::net::SocketAddr>()
                            .unwrap()
                            .into(),
                    )
                    .unwrap();
                listener.listen(1).unwrap();
                let addr = listener.local_addr().unwrap().as_socket().unwrap();
                let (to_peer, peer_rx) = std::sync::mpsc::channel::<()>();
                let (peer_tx, from_peer) = std::sync::mpsc::channel::<Vec<u8>>();
                let peer = std::thread::spawn(move || {
                    let (s, _) = listener.accept().unwrap();
                    let mut s: std::net::TcpStream = s.into();
                    peer_rx.recv().unwrap();
                    let mut first = vec![0u8; drain];
                    s.read_exact(&mut first).unwrap();
                    peer_tx.send(first.clone()).unwrap();
                    peer_rx.recv().unwrap();
                    s.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut all = first;
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => all.extend_from_slice(&buf[..n]),
                            Err(_) => break,
                        }
                    }
                    peer_tx.send(all).unwrap();
                });
                let a = Socket::connect(addr).await.unwrap();
                socket2::SockRef::from(&a)
                    .set_send_buffer_size(64 * 1024)
                    .unwrap();
                let fill = common::pattern(8 << 20, 50 + round as u64);
                let filled = match a.write(&fill).timeout(Duration::from_millis(100)).await {
                    Err(SocketError::WriteTimeout { written, .. }) => written,
                    other => panic!("round {round}: filling the buffers: {other:?}"),
                };
                assert!(filled > drain);
                // Make some room: the peer reads a little of what is buffered.
                to_peer.send(()).unwrap();
                let _ = recv_from_thread(&from_peer).await;
                event::sleep(Duration::from_millis(20)).await;
                let data = common::pattern(1 << 20, 60 + round as u64);
                let r = event::timeout(
                    Duration::from_secs(5),
                    a.write(&data).timeout(Duration::ZERO),
                )
                .await;
                let r = r.unwrap_or_else(|_| {
                    panic!("round {round}: a write with a zero timeout was still pending after 5 s")
                });
                let written = match r {
                    Err(SocketError::WriteTimeout { written, .. }) => written,
                    Ok(()) => data.len(),
                    Err(e) => panic!("round {round}: {e:?}"),
                };
                to_peer.send(()).unwrap();
                event::sleep(Duration::from_millis(50)).await;
                drop(a);
                let got = recv_from_thread(&from_peer).await;
                peer.join().unwrap();
                let mut expected = fill[..filled].to_vec();
                expected.extend_from_slice(&data[..written]);
                assert_eq!(
                    got.len(),
                    expected.len(),
                    "round {round}: {filled} + {written} bytes reported written, the peer got {}",
                    got.len()
                );
                assert!(got == expected, "round {round}: bytes differ");
            }
        });
    }
}

mod tcp_half_close {
    use crate::common;

    use event::{Socket, SocketError};

    #[test]
    fn shutdown_write_delivers_eof_and_the_peer_can_still_reply() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let client = Socket::connect(addr).await.unwrap();
            let data = common::pattern(300_000, 9);
            client.write(&data).await.unwrap();
            client.shutdown_write().unwrap();
            // The echo server still sends everything back after our half-close...
            let got = common::read_exact(&client, data.len()).await.unwrap();
            assert!(got == data);
            // ...then sees our EOF, ends, and we see its EOF.
            assert!(matches!(
                client.read(10).await,
                Err(SocketError::ConnectionClosed)
            ));
        });
    }
}

mod tcp_concurrent {
    use crate::common;

    use event::Socket;

    #[test]
    fn thousand_concurrent_echo_clients_on_one_loop() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let clients: Vec<_> = (0..1000u64)
                .map(|i| {
                    event::spawn(async move {
                        let socket = Socket::connect(addr).await?;
                        for round in 0..5 {
                            let msg = common::pattern(64 + (i as usize % 512), i * 10 + round);
                            socket.write(&msg).await?;
                            let back = common::read_exact(&socket, msg.len()).await?;
                            assert_eq!(back, msg, "client {i} round {round}");
                        }
                        Ok::<_, event::SocketError>(())
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap().unwrap();
            }
        });
    }
}

mod tcp_many_streams {
    //! Many connections at once on one loop: each client sends 200 KB while reading the echo back
    //! concurrently; every byte comes back in order, and nothing is left in flight afterwards.
    use crate::common;

    use std::rc::Rc;
    use std::time::Duration;

    use event::{EventLoop, Socket};

    const CLIENTS: usize = 300;
    const LEN: usize = 200_000;

    #[test]
    fn three_hundred_connections_each_sending_200_kb_are_echoed_exactly() {
        let lp = EventLoop::new().unwrap();
        let lp = &lp;
        lp.block_on(async {
            let work = async {
                let addr = common::spawn_echo_server();
                let mut handles = Vec::new();
                for i in 0..CLIENTS {
                    handles.push(event::spawn(async move {
                        let s = Rc::new(Socket::connect(addr).await.unwrap());
                        let data = Rc::new(common::pattern(LEN, i as u64));
                        let writer = {
                            let (s, data) = (s.clone(), data.clone());
                            event::spawn(async move {
                                // In pieces of varied sizes, as a client would.
                                let mut off = 0;
                                let mut k = 0;
                                while off < LEN {
                                    let n = [1000, 70_000, 13, 131_072][k % 4].min(LEN - off);
                                    s.write(&data[off..off + n]).await.unwrap();
                                    off += n;
                                    k += 1;
                                }
                            })
                        };
                        let back = common::read_exact(&s, LEN).await.unwrap();
                        writer.await.unwrap();
                        assert!(back == *data, "client {i}: echoed bytes differ");
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
            };
            event::timeout(Duration::from_secs(120), work)
                .await
                .expect("did not finish in 120 s");
            // The clients are gone; the server's per-connection tasks see end of stream and end.
            event::sleep(Duration::from_millis(200)).await;
        });
        let stats = lp.stats();
        // The echo server still accepts: on io_uring its listener is one multishot accept on the
        // ring (an operation), on epoll a readiness source. Nothing else may be left.
        let (listener_ops, listener_sources) = match lp.backend() {
            "io_uring" => (1, 0),
            _ => (0, 1),
        };
        assert_eq!(
            (stats.operations, stats.sources),
            (listener_ops, listener_sources),
            "operations left in flight: {stats:?}"
        );
    }
}
