//! The cooperative budget: a task whose socket is always ready still yields to the others.

mod common;

use std::cell::Cell;
use std::io::Write as _;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use event::{Socket, SocketAddress};

/// A peer that keeps the socket full: a read always finds data, so without a budget the reading
/// task would never return `Pending`.
fn flooder(stop: Arc<AtomicBool>) -> (SocketAddress, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().into();
    let thread = std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let chunk = vec![7u8; 64 * 1024];
        while !stop.load(Ordering::Relaxed) {
            if client.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    (addr, thread)
}

#[test]
fn a_task_reading_a_flood_yields_to_another_task() {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, thread) = flooder(stop.clone());
    let reads_before_other_ran = common::run(async move {
        let socket = Socket::connect(addr).await.unwrap();
        // Let the flood fill the socket's buffers first.
        event::sleep(std::time::Duration::from_millis(100)).await;
        let other_ran = Rc::new(Cell::new(false));
        let flag = other_ran.clone();
        let other = event::spawn(async move {
            event::yield_now().await;
            flag.set(true);
        });
        let mut buf = [0u8; 64];
        let mut reads = 0u32;
        while !other_ran.get() && reads < 100_000 {
            socket.read_into(&mut buf).await.unwrap();
            reads += 1;
        }
        other.await.unwrap();
        reads
    });
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    assert!(
        reads_before_other_ran <= 1_000,
        "the reading task ran {reads_before_other_ran} reads before another task got a turn"
    );
}

#[test]
fn a_timer_fires_while_a_task_reads_a_flood() {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, thread) = flooder(stop.clone());
    let reads = common::run(async move {
        let socket = Socket::connect(addr).await.unwrap();
        event::sleep(std::time::Duration::from_millis(100)).await;
        let fired = Rc::new(Cell::new(false));
        let flag = fired.clone();
        drop(event::spawn(async move {
            event::sleep(std::time::Duration::from_millis(1)).await;
            flag.set(true);
        }));
        let mut reads = 0u32;
        let mut buf = [0u8; 256];
        while !fired.get() && reads < 200_000 {
            socket.read_into(&mut buf).await.unwrap();
            reads += 1;
        }
        reads
    });
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    assert!(
        reads < 200_000,
        "a 1 ms timer never fired while a task read a flood"
    );
}
