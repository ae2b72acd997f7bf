//! A Unix datagram larger than the buffer is reported with its full length (also past the
//! loop's 64 KiB scratch buffer), never cut silently; the buffer holds its first bytes and the
//! next datagram is whole.

mod common;

use common::unix::TempDir;
use event::{SocketError, UnixDatagram};

#[test]
fn a_datagram_larger_than_the_buffer_is_reported_with_its_full_length_and_sender() {
    let dir = TempDir::new("dg-trunc");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
        let msg = common::pattern(1000, 1);
        client.send_to(&msg, dir.join("s.sock")).await.unwrap();
        client.send_to(b"next", dir.join("s.sock")).await.unwrap();
        let mut small = [0u8; 100];
        match server.recv_from(&mut small).await.unwrap_err() {
            SocketError::UnixTruncated {
                peer,
                len,
                capacity,
            } => {
                assert_eq!(peer, client.local_address());
                assert_eq!((len, capacity), (1000, 100));
            }
            other => panic!("expected UnixTruncated, got {other}"),
        }
        assert_eq!(&small[..], &msg[..100], "the buffer holds the first bytes");
        let (n, _) = server.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next", "the next datagram is whole");
    });
}

#[test]
fn a_datagram_over_64_kib_into_a_small_buffer_reports_its_full_length() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let big = common::pattern(150_000, 2);
        a.send(&big).await.unwrap();
        let mut buf = vec![0u8; 70_000];
        let err = b.recv(&mut buf).await.unwrap_err();
        assert!(
            matches!(
                err,
                SocketError::UnixTruncated {
                    len: 150_000,
                    capacity: 70_000,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
        assert!(buf[..] == big[..70_000]);
    });
}

#[test]
fn truncation_is_reported_in_the_datagram_stream() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(&[2u8; 50]).await.unwrap();
        a.send(&[3u8; 5]).await.unwrap();
        let mut datagrams = b.datagrams(10);
        let first = datagrams.next().await.unwrap();
        assert!(
            matches!(
                first,
                Err(SocketError::UnixTruncated {
                    len: 50,
                    capacity: 10,
                    ..
                })
            ),
            "{first:?}"
        );
        let (second, _) = datagrams.next().await.unwrap().unwrap();
        assert_eq!(second, vec![3u8; 5]);
    });
}
