//! UDP: a datagram larger than the buffer is reported as truncated, with its full length,
//! never silently cut; the buffer holds its first bytes and the socket stays usable.

mod common;

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
