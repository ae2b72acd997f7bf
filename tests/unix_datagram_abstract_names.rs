//! Unix datagram sockets in Linux's abstract namespace: no file is made, the sender's name is
//! reported, a name in use is refused with a clear error, and the name is free again once the
//! socket is dropped.

mod common;

use common::unix::abstract_name;
use event::{UnixAddress, UnixDatagram};

#[test]
fn abstract_names_send_receive_and_report_the_sender() {
    common::run(async {
        let (s, c) = (abstract_name("dg-abs-s"), abstract_name("dg-abs-c"));
        let server = UnixDatagram::bind(s.as_str()).unwrap();
        let client = UnixDatagram::bind(c.as_str()).unwrap();
        assert_eq!(server.local_address(), UnixAddress::from(s.as_str()));
        assert_eq!(server.local_address().as_path(), None, "no file");
        client.send_to(b"hi", s.as_str()).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hi");
        assert_eq!(from, UnixAddress::abstract_name(&c.as_bytes()[1..]));
        server.send_to(b"ho", &from).await.unwrap();
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from.to_string()), (&b"ho"[..], s.clone()));
    });
}

#[test]
fn a_name_in_use_is_refused_and_free_again_after_the_drop() {
    let name = abstract_name("dg-abs-busy");
    let first = UnixDatagram::bind(name.as_str()).unwrap();
    let err = UnixDatagram::bind(name.as_str()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    assert!(
        err.to_string()
            .contains("another socket has this abstract name"),
        "{err}"
    );
    drop(first);
    UnixDatagram::bind(name.as_str()).unwrap();
}
