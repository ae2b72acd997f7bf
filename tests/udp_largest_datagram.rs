//! UDP: the largest IPv4 datagram (65,507 bytes) goes through whole, and one byte more is
//! refused with a clear `DatagramTooLarge` (EMSGSIZE), nothing sent.

mod common;

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
