//! Unix datagrams: dropping a pending receive loses no datagram (the one that arrives later
//! goes to the next receive), and receivers sharing a socket take turns in the order they
//! started, a cancelled one passing its turn on.

mod common;

use std::rc::Rc;
use std::time::Duration;

use event::UnixDatagram;

#[test]
fn a_dropped_pending_receive_leaves_the_datagram_for_the_next() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0u8; 64];
        assert!(common::poll_once_then_drop(b.recv(&mut buf)));
        let r = event::timeout(Duration::from_millis(30), b.recv_from(&mut buf)).await;
        assert!(r.is_err(), "nothing yet");
        a.send(b"kept").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");
    });
}

#[test]
fn receivers_sharing_a_socket_take_turns_and_a_cancelled_one_passes_its_turn_on() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let b = Rc::new(b);
        let receiver = |b: Rc<UnixDatagram>| async move {
            let mut buf = [0u8; 64];
            let n = b.recv(&mut buf).await.unwrap();
            buf[..n].to_vec()
        };
        let first = event::spawn(receiver(b.clone()));
        let second = event::spawn(receiver(b.clone()));
        event::sleep(Duration::from_millis(20)).await;
        let third = event::spawn(receiver(b.clone()));
        event::sleep(Duration::from_millis(20)).await;
        third.cancel().await;
        a.send(b"1").await.unwrap();
        a.send(b"2").await.unwrap();
        assert_eq!(
            first.await.unwrap(),
            b"1",
            "the first to ask gets the first"
        );
        assert_eq!(second.await.unwrap(), b"2");
    });
}
