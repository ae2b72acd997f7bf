//! At its connection limit (`AtLimit::Wait`) a listener stops accepting: clients beyond the
//! limit stay in the kernel's backlog and hold no descriptor in the server's process (on
//! io_uring its multishot accept is cancelled at the limit, and armed again below it), and a
//! place freed lets the next client in.
mod common;

use std::time::Duration;

use event::{ListenOptions, Socket};

/// Descriptors this process holds.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn clients_beyond_the_limit_wait_in_the_backlog_not_in_the_process() {
    const EXTRA: usize = 8;
    common::run(async {
        let server = ListenOptions::new()
            .max_connections(1)
            .listen_on("127.0.0.1:0")
            .unwrap();
        let addr = server.local_address();
        let served = event::spawn(async move {
            for _ in 0..2 {
                let client = server.accept().await.unwrap();
                let bytes = client.read(64).await.unwrap();
                client.write(&bytes).await.unwrap();
                // Hold the one place until the client goes.
                while client.read(64).await.is_ok() {}
            }
        });
        // The first client takes the one place.
        let first = Socket::connect(addr).await.unwrap();
        first.write(b"one").await.unwrap();
        assert_eq!(common::read_exact(&first, 3).await.unwrap(), b"one");
        let before = open_fds();
        let mut waiting = Vec::new();
        for _ in 0..EXTRA {
            waiting.push(Socket::connect(addr).await.unwrap());
        }
        // Loop turns in which an accept would have happened.
        event::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            open_fds(),
            before + EXTRA,
            "only the clients' own descriptors: the server accepted none at its limit"
        );
        // The place frees: a waiting client is accepted and served.
        drop(first);
        let next = waiting.remove(0);
        next.write(b"two").await.unwrap();
        assert_eq!(common::read_exact(&next, 3).await.unwrap(), b"two");
        drop(next);
        served.await.unwrap();
    });
}
