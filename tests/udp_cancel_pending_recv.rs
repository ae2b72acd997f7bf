//! UDP: dropping a pending receive loses no datagram: the one that arrives afterwards goes to
//! the next receive (on io_uring too), and a second receiver waiting behind the dropped one
//! gets its turn.

mod common;

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use event::UdpSocket;

/// Polls `f` once, then drops it.
fn poll_once_then_drop<F: Future>(f: F) -> bool {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    matches!(f.as_mut().poll(&mut cx), Poll::Pending)
}

#[test]
fn a_dropped_pending_receive_leaves_the_datagram_for_the_next() {
    common::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];
        // A receive that waits, then is dropped (as a `select` or a timeout would).
        assert!(poll_once_then_drop(b.recv_from(&mut buf)));
        let r = event::timeout(Duration::from_millis(30), b.recv_from(&mut buf)).await;
        assert!(r.is_err(), "nothing yet");
        a.send_to(b"kept", b.local_address()).await.unwrap();
        event::sleep(Duration::from_millis(20)).await;
        let (n, _) = b
            .recv_from(&mut buf)
            .timeout(Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"kept");
    });
}

#[test]
fn receivers_sharing_a_socket_take_turns_and_a_dropped_one_passes_its_turn_on() {
    common::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let first = event::spawn({
            let b = b.clone();
            async move {
                let mut buf = [0u8; 64];
                let (n, _) = b.recv_from(&mut buf).await.unwrap();
                buf[..n].to_vec()
            }
        });
        let second = event::spawn({
            let b = b.clone();
            async move {
                let mut buf = [0u8; 64];
                let (n, _) = b.recv_from(&mut buf).await.unwrap();
                buf[..n].to_vec()
            }
        });
        event::sleep(Duration::from_millis(20)).await;
        // A third queues behind them and is cancelled: it must not hold up anyone.
        let third = event::spawn({
            let b = b.clone();
            async move { b.recv_from(&mut [0u8; 64]).await.map(|(n, _)| n) }
        });
        event::sleep(Duration::from_millis(20)).await;
        third.cancel().await;
        a.send_to(b"1", b.local_address()).await.unwrap();
        a.send_to(b"2", b.local_address()).await.unwrap();
        assert_eq!(
            first.await.unwrap(),
            b"1",
            "the first to ask gets the first"
        );
        assert_eq!(second.await.unwrap(), b"2");
    });
}
