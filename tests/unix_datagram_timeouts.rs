//! Unix datagram timeouts: a receive that times out consumed nothing (the datagram that comes
//! later goes to the next receive), default timeouts apply to every operation, and the errors
//! name the operation and the address.

mod common;

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
