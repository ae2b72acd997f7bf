//! UDP and the cooperative budget: a task whose socket always has a datagram waiting still
//! yields to the other tasks (after at most 128 operations), as on TCP.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use event::UdpSocket;

/// Datagrams queued before the reader starts: more than the budget, fewer than a default
/// receive buffer holds.
const QUEUED: usize = 200;

#[test]
fn a_task_with_datagrams_always_waiting_yields_to_another_task() {
    common::run(async {
        let reader = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..QUEUED {
            sender
                .send_to(&(i as u32).to_le_bytes(), reader.local_address().to_std())
                .unwrap();
        }
        // Let the loop see the socket's readiness once.
        let mut buf = [0u8; 16];
        reader.recv_from(&mut buf).await.unwrap();
        let other_ran = Rc::new(Cell::new(false));
        let flag = other_ran.clone();
        let other = event::spawn(async move { flag.set(true) });
        let mut reads = 1;
        while !other_ran.get() && reads < QUEUED {
            let (n, _) = reader.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                &buf[..n],
                &(reads as u32).to_le_bytes(),
                "in order, none lost"
            );
            reads += 1;
        }
        other.await.unwrap();
        assert!(
            reads <= 129 + 1,
            "the other task ran only after {reads} receives that never waited"
        );
    });
}
