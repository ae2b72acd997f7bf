//! UDP: per-operation timeouts; a receive that times out consumed nothing (the datagram that
//! arrives later goes to the next receive); the socket's default timeout applies to every
//! receive that gives none of its own.

mod common;

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
