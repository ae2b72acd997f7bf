//! The largest Unix datagram the default send buffer allows (found by trying, since it is
//! SO_SNDBUF less the kernel's overhead) arrives whole; one byte more fails to send with
//! EMSGSIZE and an error that says what to do.

mod common;

use event::{SocketError, UnixDatagram};

/// The largest datagram `socket` can send, found by bisection over real sends to `peer`'s
/// queue (each success is received and checked, so the queue never fills).
async fn largest_sendable(socket: &UnixDatagram, peer: &UnixDatagram, sndbuf: usize) -> usize {
    let (mut ok, mut too_large) = (0, sndbuf + 1);
    let mut buf = vec![0u8; sndbuf + 1];
    while too_large - ok > 1 {
        let len = (ok + too_large) / 2;
        match socket.send(&common::pattern(len, len as u64)).await {
            Ok(n) => {
                assert_eq!(n, len);
                assert_eq!(peer.recv(&mut buf).await.unwrap(), len);
                ok = len;
            }
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => too_large = len,
            Err(e) => panic!("send of {len} bytes: {e}"),
        }
    }
    ok
}

#[test]
fn the_largest_datagram_the_send_buffer_allows_arrives_whole() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let sndbuf = socket2::SockRef::from(&a).send_buffer_size().unwrap();
        let limit = largest_sendable(&a, &b, sndbuf).await;
        println!("SO_SNDBUF {sndbuf}: the largest datagram is {limit} bytes");
        assert!(limit > 64 * 1024 && limit < sndbuf, "{limit} of {sndbuf}");

        let msg = common::pattern(limit, 99);
        assert_eq!(a.send(&msg).await.unwrap(), limit);
        let mut buf = vec![0u8; limit];
        assert_eq!(b.recv(&mut buf).await.unwrap(), limit, "not truncated");
        assert!(buf == msg, "every byte as sent");

        let err = a.send(&vec![7u8; limit + 1]).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE));
        assert!(
            matches!(err, SocketError::Unix { op: "send", .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("SO_SNDBUF"), "{err}");
    });
}
