mod common;

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
