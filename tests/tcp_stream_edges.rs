//! Edges of a stream that both drivers must handle alike (the io_uring driver implements them
//! its own way): reads larger than the buffered bytes, small messages of many connections
//! interleaved (they share the receive buffers on io_uring), end of stream and reset after data,
//! a write with a zero timeout.
mod common;

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
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
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
/// cancellation is processed; the rest must not then be sent regardless, nor the write hang. The
/// socket's buffers are filled first, then the (blocking, std) peer reads a little, so that there
/// is room for part of a send only.
#[test]
fn write_with_a_zero_timeout_ends_and_reports_what_went_out() {
    use std::io::Read as _;
    common::run(async {
        for (round, drain) in [1_000usize, 10_000, 30_000, 60_000, 150_000]
            .into_iter()
            .enumerate()
        {
            let listener =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
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
