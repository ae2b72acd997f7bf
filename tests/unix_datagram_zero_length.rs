//! A 0-byte Unix datagram is a datagram: it arrives as one (with its sender), between others,
//! and a 0-byte buffer receiving a longer one reports truncation.

mod common;

use common::unix::TempDir;
use event::{SocketError, UnixDatagram};

#[test]
fn an_empty_datagram_arrives_as_one_between_others() {
    let dir = TempDir::new("dg-zero");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
        for msg in [&b"a"[..], b"", b"b"] {
            assert_eq!(
                client.send_to(msg, dir.join("s.sock")).await.unwrap(),
                msg.len()
            );
        }
        let mut buf = [0u8; 16];
        for want in [&b"a"[..], b"", b"b"] {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], want);
            assert_eq!(from, client.local_address());
        }
    });
}

#[test]
fn an_empty_buffer_takes_an_empty_datagram_and_reports_a_longer_one() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"").await.unwrap();
        a.send(b"xyz").await.unwrap();
        assert_eq!(b.recv(&mut []).await.unwrap(), 0);
        let err = b.recv(&mut []).await.unwrap_err();
        assert!(
            matches!(
                err,
                SocketError::UnixTruncated {
                    len: 3,
                    capacity: 0,
                    ..
                }
            ),
            "{err:?}"
        );
    });
}
