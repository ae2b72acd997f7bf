//! UDP: a 0-byte datagram is a datagram (received as length 0, with its sender), into an empty
//! buffer or a large one.

mod common;

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
