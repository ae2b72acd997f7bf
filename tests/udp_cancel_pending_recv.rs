//! UDP: dropping a pending receive loses no datagram: the one that arrives afterwards goes to
//! the next receive, and so does one that arrived while the receive was pending (its task
//! woken: on io_uring the datagram is then in the socket's queue in user space) if the receive
//! is dropped before it is polled again; a second receiver waiting behind the dropped one gets
//! its turn.

mod common;

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake};
use std::time::Duration;

use event::UdpSocket;

#[test]
fn a_dropped_pending_receive_leaves_the_datagram_for_the_next() {
    common::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];
        // A receive that waits, then is dropped (as a `select` or a timeout would).
        assert!(common::poll_once_then_drop(b.recv_from(&mut buf)));
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

/// Counts its wake-ups.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_receive_dropped_after_its_datagram_arrived_leaves_it_for_the_next() {
    common::run(async {
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0u8; 64];
        {
            let mut pending = pin!(b.recv_from(&mut buf));
            assert!(pending.as_mut().poll(&mut cx).is_pending());
            let to: std::net::SocketAddr = b.local_address().into();
            a.send_to(b"arrived while waiting", to).unwrap();
            // The loop turns until the datagram has reached the socket and woken the receive.
            for _ in 0..500 {
                if counter.0.load(Ordering::SeqCst) > 0 {
                    break;
                }
                event::sleep(Duration::from_millis(2)).await;
            }
            assert!(
                counter.0.load(Ordering::SeqCst) > 0,
                "the receive was woken"
            );
            // Dropped here without being polled again.
        }
        let (n, from) = b
            .recv_from(&mut buf)
            .timeout(Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"arrived while waiting");
        assert_eq!(from, a.local_addr().unwrap().into());
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
