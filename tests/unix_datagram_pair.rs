//! `UnixDatagram::pair`: two connected, unnamed sockets, each datagram whole in both
//! directions, the peer's credentials (the kernel records them for a pair), and none for a
//! socket connected with `connect`.

mod common;

use common::unix::abstract_name;
use event::{UnixAddress, UnixDatagram};

#[test]
fn a_pair_carries_datagrams_both_ways_with_boundaries_kept() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        assert_eq!(a.peer_address(), Some(UnixAddress::Unnamed));
        assert_eq!(a.local_address(), UnixAddress::Unnamed);
        a.send(b"one").await.unwrap();
        a.send(b"two").await.unwrap();
        b.send(b"back").await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], UnixAddress::Unnamed));
        assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn a_pair_knows_its_peers_credentials_and_a_connected_socket_says_it_has_none() {
    common::run(async {
        let (a, _b) = UnixDatagram::pair().unwrap();
        let cred = a.peer_credentials().unwrap();
        assert_eq!(cred.pid, std::process::id() as i32);
        assert_eq!(cred.uid, own_uid());
        let name = abstract_name("dg-cred");
        let _server = UnixDatagram::bind(name.as_str()).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.connect(name.as_str()).unwrap();
        let err = client.peer_credentials().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
        assert!(err.to_string().contains("socket pair only"), "{err}");
    });
}

/// This process's user id, from /proc (no libc call needed).
fn own_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}
