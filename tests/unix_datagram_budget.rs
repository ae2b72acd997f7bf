//! Unix datagrams and the cooperative budget: a task whose sends and receives never have to
//! wait still yields to the other tasks (after at most 128 socket operations).

mod common;

use std::cell::Cell;
use std::rc::Rc;

use event::UnixDatagram;

#[test]
fn a_task_whose_operations_never_wait_yields_to_another_task() {
    common::run(async {
        // A pair's queue holds only a few datagrams (net.unix.max_dgram_qlen), so the task
        // sends one and receives it: two operations per round, neither waits.
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0u8; 16];
        a.send(b"warm").await.unwrap();
        b.recv(&mut buf).await.unwrap();
        let other_ran = Rc::new(Cell::new(false));
        let flag = other_ran.clone();
        let other = event::spawn(async move { flag.set(true) });
        let mut rounds = 0u32;
        while !other_ran.get() && rounds < 1000 {
            a.send(&rounds.to_le_bytes()).await.unwrap();
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &rounds.to_le_bytes(), "in order, none lost");
            rounds += 1;
        }
        other.await.unwrap();
        assert!(
            rounds <= 65,
            "the other task ran only after {rounds} rounds (two operations each) that never waited"
        );
    });
}
