//! A send to a Unix datagram receiver whose queue is full waits, without spinning, and goes out
//! once the receiver drains: for an unconnected send_to (whose writable edges come after every
//! refused send, so it retries on a timer) and for a connected send (woken by the edge).

mod common;

use std::rc::Rc;
use std::time::Duration;

use common::unix::TempDir;
use event::UnixDatagram;

/// Sends until a send has to wait; returns how many went out.
async fn fill(send: impl AsyncFnMut() -> bool) -> usize {
    let mut send = send;
    let mut n = 0;
    while send().await {
        n += 1;
    }
    n
}

#[test]
fn a_blocked_send_waits_without_spinning_and_completes_when_the_receiver_drains() {
    let dir = TempDir::new("dg-full");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let client = Rc::new(UnixDatagram::unbound().unwrap());
        let (a, b) = UnixDatagram::pair().unwrap();
        let a = Rc::new(a);
        let short = Duration::from_millis(20);
        let path = dir.join("s.sock");
        let queued = fill(async || client.send_to(b"q", &path).timeout(short).await.is_ok()).await;
        let queued_pair = fill(async || a.send(b"q").timeout(short).await.is_ok()).await;
        assert!(queued > 0 && queued_pair > 0);
        let unconnected = event::spawn({
            let (client, path) = (client.clone(), path.clone());
            async move { client.send_to(b"last", &path).await }
        });
        let connected = event::spawn({
            let a = a.clone();
            async move { a.send(b"last").await }
        });
        event::sleep(Duration::from_millis(50)).await;
        let cpu = common::sys::thread_cpu_time();
        event::sleep(Duration::from_millis(500)).await;
        let used = common::sys::thread_cpu_time() - cpu;
        assert!(
            used < Duration::from_millis(100),
            "two blocked sends used {used:?} of CPU in 0.5 s"
        );
        let mut buf = [0u8; 8];
        for _ in 0..queued {
            server.recv_from(&mut buf).await.unwrap();
        }
        for _ in 0..queued_pair {
            b.recv(&mut buf).await.unwrap();
        }
        assert_eq!(unconnected.await.unwrap().unwrap(), 4);
        assert_eq!(connected.await.unwrap().unwrap(), 4);
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"last");
        assert_eq!(b.recv(&mut buf).await.unwrap(), 4);
    });
}
