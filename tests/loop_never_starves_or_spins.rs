//! The loop neither starves I/O behind a task that keeps yielding nor spins while every
//! operation waits.
mod common;

use std::rc::Rc;
use std::time::Duration;

use event::Socket;

/// A task that never waits (it yields in a loop) does not starve socket I/O on its loop.
#[test]
fn a_task_that_only_yields_does_not_starve_io() {
    common::run(async {
        let stop = Rc::new(std::cell::Cell::new(false));
        let spins = Rc::new(std::cell::Cell::new(0u64));
        let spinner = {
            let (stop, spins) = (stop.clone(), spins.clone());
            event::spawn(async move {
                while !stop.get() {
                    spins.set(spins.get() + 1);
                    event::yield_now().await;
                }
            })
        };
        let addr = common::spawn_echo_server();
        let work = async {
            let s = Rc::new(Socket::connect(addr).await.unwrap());
            let data = Rc::new(common::pattern(1 << 20, 31));
            let writer = {
                let (s, data) = (s.clone(), data.clone());
                event::spawn(async move { s.write(&data).await.unwrap() })
            };
            let back = common::read_exact(&s, data.len()).await.unwrap();
            writer.await.unwrap();
            assert!(back == *data);
        };
        let r = event::timeout(Duration::from_secs(10), work).await;
        stop.set(true);
        spinner.await.unwrap();
        assert!(
            r.is_ok(),
            "no echo within 10 s while a task yields in a loop"
        );
        assert!(spins.get() > 0);
    });
}

/// A loop whose connections all wait (a receive armed, a receive stopped by backpressure, a
/// send stalled on a peer that does not read, a dropped write's send still in flight, a pending
/// accept) sleeps: it uses almost no CPU while nothing happens.
#[test]
fn a_loop_with_only_waiting_operations_does_not_spin() {
    common::run(async {
        let (a1, b1) = common::pair().await;
        let (a2, b2) = common::pair().await;
        let (a3, b3) = common::pair().await;
        let (a4, b4) = common::pair().await;
        let a1 = Rc::new(a1);
        let reader = {
            let a1 = a1.clone();
            event::spawn(async move {
                let _ = a1.read(10).await;
            })
        };
        // b2 receives more than the high-water mark without reading it.
        let _ = b2.read(1).timeout(Duration::from_millis(1)).await;
        let big = common::pattern(8 << 20, 70);
        let _ = a2.write(&big).timeout(Duration::from_millis(100)).await;
        let a3 = Rc::new(a3);
        let writer = {
            let a3 = a3.clone();
            let big = big.clone();
            event::spawn(async move {
                let _ = a3.write(&big).await;
            })
        };
        let _ = event::timeout(Duration::from_millis(100), a4.write(&big)).await;
        let server = Rc::new(common::listen_local());
        let acceptor = {
            let server = server.clone();
            event::spawn(async move {
                let _ = server.accept().await;
            })
        };
        event::sleep(Duration::from_millis(100)).await;
        let cpu = common::sys::thread_cpu_time();
        event::sleep(Duration::from_millis(1000)).await;
        let used = common::sys::thread_cpu_time() - cpu;
        assert!(
            used < Duration::from_millis(200),
            "the idle loop used {used:?} of CPU in 1 s"
        );
        reader.cancel().await;
        writer.cancel().await;
        acceptor.cancel().await;
        drop((b1, b2, b3, b4, a2, a4));
    });
}
