//! UDP: every byte value survives a round trip, in one datagram and one datagram per value.

mod common;

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
