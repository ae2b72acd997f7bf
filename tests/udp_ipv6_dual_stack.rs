//! UDP over IPv6: a socket on [::1], and a dual-stack socket on [::] (`ipv6_only(false)`) that
//! also receives IPv4 datagrams (from IPv4-mapped addresses); `ipv6_only(true)` refuses them.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use event::{UdpOptions, UdpSocket};

#[test]
fn ipv6_datagrams_round_trip_on_loopback() {
    common::run(async {
        let Ok(a) = UdpSocket::bind("[::1]:0") else {
            println!("note: skipped, no IPv6 loopback here");
            return;
        };
        let b = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
        assert!(a.local_address().is_ipv6());
        a.send_to(b"over v6", b.local_address()).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"over v6"[..], a.local_address()));
        a.set_ttl(7).unwrap();
        assert_eq!(a.ttl().unwrap(), 7);
    });
}

#[test]
fn a_dual_stack_socket_receives_ipv4_and_an_ipv6_only_one_does_not() {
    common::run(async {
        let Ok(dual) = UdpOptions::new()
            .ipv6_only(false)
            .bind((Ipv6Addr::UNSPECIFIED, 0))
        else {
            println!("note: skipped, no IPv6 here");
            return;
        };
        assert!(!dual.ipv6_only().unwrap());
        let port = dual.local_address().port();
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        v4.send_to(b"from v4", (Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = dual.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"from v4");
        let mapped = Ipv4Addr::LOCALHOST.to_ipv6_mapped();
        assert_eq!(from.ip(), IpAddr::V6(mapped));
        assert_eq!(from.port(), v4.local_address().port());
        // And back, to the mapped address.
        dual.send_to(b"reply", from).await.unwrap();
        let (n, _) = v4.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"reply");
        // A plain IPv4 destination works too (sent to its IPv4-mapped form).
        dual.send_to(b"plain v4", v4.local_address()).await.unwrap();
        let (n, from) = v4.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from.port()), (&b"plain v4"[..], port));

        let only = UdpOptions::new()
            .ipv6_only(true)
            .bind((Ipv6Addr::UNSPECIFIED, 0))
            .unwrap();
        assert!(only.ipv6_only().unwrap());
        let port = only.local_address().port();
        v4.send_to(b"lost", (Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let r = only
            .recv_from(&mut buf)
            .timeout(Duration::from_millis(100))
            .await;
        assert!(
            r.unwrap_err().is_timeout(),
            "an IPv6-only socket gets no IPv4"
        );
    });
}
