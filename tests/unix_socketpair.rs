//! `UnixSocket::pair`: two connected sockets on the running loop, both directions, end of
//! stream when one is dropped, and the error outside a loop.

mod common;

use common::unix::read_exact;
use event::{SocketError, UnixAddress, UnixSocket};

#[test]
fn both_ends_of_a_pair_talk_and_see_the_other_close() {
    common::run(async {
        let (a, b) = UnixSocket::pair().unwrap();
        assert_eq!(a.peer_address().unwrap(), UnixAddress::Unnamed);
        a.write(b"to b").await.unwrap();
        b.write(b"to a").await.unwrap();
        assert_eq!(read_exact(&b, 4).await.unwrap(), b"to b");
        assert_eq!(read_exact(&a, 4).await.unwrap(), b"to a");
        drop(a);
        assert!(matches!(
            b.read(1).await,
            Err(SocketError::ConnectionClosed)
        ));
    });
}

#[test]
fn a_pair_serves_two_tasks() {
    common::run(async {
        let (a, b) = UnixSocket::pair().unwrap();
        let echo = event::spawn(async move {
            while let Ok(bytes) = b.read(4096).await {
                b.write(&bytes).await.unwrap();
            }
        });
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            a.write(&msg).await.unwrap();
            assert_eq!(read_exact(&a, 4).await.unwrap(), msg);
        }
        drop(a);
        echo.await.unwrap();
    });
}

#[test]
fn a_pair_needs_a_loop() {
    assert!(matches!(UnixSocket::pair(), Err(SocketError::NoEventLoop)));
}
