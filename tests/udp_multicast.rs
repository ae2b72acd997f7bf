//! UDP: joining a multicast group on loopback and receiving what is sent to it (IPv4 and
//! IPv6), then leaving. Skipped, with a note, where the sandbox has no multicast route.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use event::{UdpOptions, UdpSocket};

#[test]
fn a_member_of_an_ipv4_group_receives_what_is_sent_to_it() {
    common::run(async {
        let group = Ipv4Addr::new(239, 255, 42, 99);
        let member = UdpOptions::new()
            .reuse_address(true)
            .bind((Ipv4Addr::UNSPECIFIED, 0))
            .unwrap();
        let port = member.local_address().port();
        if let Err(e) = member.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
            println!("note: skipped, cannot join {group} on loopback: {e}");
            return;
        }
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.set_multicast_loop_v4(true).unwrap();
        sender.set_multicast_ttl_v4(1).unwrap();
        // Send through the loopback interface (IP_MULTICAST_IF by source address).
        socket2::SockRef::from(&sender)
            .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
            .unwrap();
        if let Err(e) = sender.send_to(b"to the group", (group, port)).await {
            println!("note: skipped, cannot send to {group}: {e}");
            return;
        }
        let mut buf = [0u8; 64];
        match member
            .recv_from(&mut buf)
            .timeout(Duration::from_secs(2))
            .await
        {
            Ok((n, from)) => {
                assert_eq!(&buf[..n], b"to the group");
                assert_eq!(from, sender.local_address());
            }
            Err(e) if e.is_timeout() => {
                println!("note: skipped, no multicast delivery on loopback here");
                return;
            }
            Err(e) => panic!("{e}"),
        }
        member
            .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
            .unwrap();
        let err = member
            .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert!(
            err.raw_os_error().is_some(),
            "leaving twice is an OS error: {err}"
        );
    });
}

#[test]
fn a_member_of_an_ipv6_group_receives_what_is_sent_to_it() {
    common::run(async {
        let group: Ipv6Addr = "ff02::4242".parse().unwrap();
        let Ok(member) = UdpOptions::new()
            .reuse_address(true)
            .bind((Ipv6Addr::UNSPECIFIED, 0))
        else {
            println!("note: skipped, no IPv6 here");
            return;
        };
        let port = member.local_address().port();
        // Interface 1 is loopback on Linux.
        if let Err(e) = member.join_multicast_v6(group, 1) {
            println!("note: skipped, cannot join {group} on loopback: {e}");
            return;
        }
        let sender = UdpSocket::bind("[::1]:0").unwrap();
        sender.set_multicast_loop_v6(true).unwrap();
        sender.set_multicast_hops_v6(1).unwrap();
        socket2::SockRef::from(&sender)
            .set_multicast_if_v6(1)
            .unwrap();
        let to = std::net::SocketAddrV6::new(group, port, 0, 1);
        if let Err(e) = sender.send_to(b"v6 group", to).await {
            println!("note: skipped, cannot send to {group}: {e}");
            return;
        }
        let mut buf = [0u8; 64];
        match member
            .recv_from(&mut buf)
            .timeout(Duration::from_secs(2))
            .await
        {
            Ok((n, _)) => assert_eq!(&buf[..n], b"v6 group"),
            Err(e) if e.is_timeout() => {
                println!("note: skipped, no IPv6 multicast delivery on loopback here");
                return;
            }
            Err(e) => panic!("{e}"),
        }
        member.leave_multicast_v6(group, 1).unwrap();
    });
}
