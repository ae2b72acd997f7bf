//! An unbound Unix datagram socket sends as `UnixAddress::Unnamed`; once connected it also
//! receives, from its peer only.

mod common;

use common::unix::TempDir;
use event::{UnixAddress, UnixDatagram};

#[test]
fn an_unbound_sender_is_reported_as_unnamed() {
    let dir = TempDir::new("dg-unnamed");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        assert_eq!(client.local_address(), UnixAddress::Unnamed);
        client.send_to(b"anon", dir.join("s.sock")).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], &from), (&b"anon"[..], &UnixAddress::Unnamed));
        assert_eq!(from.to_string(), "(unnamed)");
        let err = server.send_to(b"reply", &from).await.unwrap_err();
        assert!(
            matches!(err, event::SocketError::InvalidAddress { .. }),
            "{err:?}"
        );
    });
}

#[test]
fn a_connected_unbound_socket_sends_to_its_peer_as_unnamed() {
    let dir = TempDir::new("dg-conn");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.connect(dir.join("s.sock")).unwrap();
        assert_eq!(client.peer_address(), Some(server.local_address()));
        client.send(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], UnixAddress::Unnamed));
    });
}

#[test]
fn a_connected_socket_receives_from_its_peer_only() {
    let dir = TempDir::new("dg-peer");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let stranger = UnixDatagram::bind(dir.join("x.sock")).unwrap();
        let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
        client.connect(dir.join("s.sock")).unwrap();
        let err = stranger
            .send_to(b"stranger", dir.join("c.sock"))
            .await
            .unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EPERM),
            "the kernel refuses strangers: {err}"
        );
        server.send_to(b"peer", dir.join("c.sock")).await.unwrap();
        let mut buf = [0u8; 16];
        let n = client.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"peer");
    });
}
