//! A trait-level read's timeout (the socket's default, through `AsyncRead`) keeps the timer of
//! an earlier wait armed while the socket is not read. Whether that timer fires during a gap
//! in which nothing waits (a spurious wake of the task) or later, during the next wait, the
//! next wait still gets the whole timeout from its own start, never less and not much more,
//! and the loop sleeps (no CPU) through the gap.
mod common;

use std::future::poll_fn;
use std::io::{ErrorKind, Write};
use std::pin::Pin;
use std::time::{Duration, Instant};

use event::Socket;
use futures_io::AsyncRead;

const TIMEOUT: Duration = Duration::from_millis(300);

async fn trait_read(mut socket: &Socket) -> std::io::Result<usize> {
    let mut buf = [0u8; 16];
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, &mut buf)).await
}

/// One byte read through the trait after a wait of about 50 ms (arming the timer at
/// about 300 ms), then `gap` with nothing waiting, then a wait with nothing to read.
fn gap_then_wait(gap: Duration) {
    common::run(async move {
        let server = common::listen_local();
        let addr = server.local_address().to_std();
        let (done, done_rx) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(b"x").unwrap();
            // Open and silent until the test is done.
            let _ = done_rx.recv_timeout(Duration::from_secs(5));
        });
        let client = server.accept().await.unwrap();
        client.set_read_timeout(Some(TIMEOUT));
        assert!(matches!(trait_read(&client).await, Ok(1)));

        let cpu = common::sys::thread_cpu_time();
        event::sleep(gap).await;
        let used = common::sys::thread_cpu_time() - cpu;
        assert!(
            used < Duration::from_millis(100),
            "the loop used {used:?} of CPU in a {gap:?} gap"
        );

        let start = Instant::now();
        let err = trait_read(&client).await.unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(waited >= TIMEOUT, "timed out early, after {waited:?}");
        assert!(waited < TIMEOUT * 4, "timed out late, after {waited:?}");
        drop(client);
        let _ = done.send(());
        peer.join().unwrap();
    });
}

#[test]
fn the_old_timer_fires_in_the_gap_and_the_next_wait_is_whole() {
    // The first wait's timer (at ~300 ms) fires at ~300 ms, inside the gap.
    gap_then_wait(Duration::from_millis(700));
}

#[test]
fn the_old_timer_fires_during_the_next_wait_and_does_not_end_it() {
    // The next wait starts at ~200 ms: the old timer fires ~100 ms into it.
    gap_then_wait(Duration::from_millis(150));
}

#[test]
fn a_timed_out_trait_read_is_reused_with_the_whole_timeout_each_time() {
    common::run(async {
        let server = common::listen_local();
        let addr = server.local_address().to_std();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            // Silent until told, then one byte.
            go_rx.recv().unwrap();
            s.write_all(b"y").unwrap();
            // Open and silent until the test is done.
            let _ = go_rx.recv_timeout(Duration::from_secs(5));
        });
        let client = server.accept().await.unwrap();
        client.set_read_timeout(Some(TIMEOUT));
        for i in 0..3 {
            let start = Instant::now();
            let err = trait_read(&client).await.unwrap_err();
            let waited = start.elapsed();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "wait {i}: {err}");
            assert!(waited >= TIMEOUT, "wait {i} timed out after {waited:?}");
            assert!(waited < TIMEOUT * 4, "wait {i} timed out after {waited:?}");
        }
        // Still usable after the timeouts: a byte that comes is read.
        go_tx.send(()).unwrap();
        assert!(matches!(trait_read(&client).await, Ok(1)));
        // And a native read with its own timeout on the same socket is whole too.
        let start = Instant::now();
        let err = client
            .read(16)
            .timeout(Duration::from_millis(200))
            .await
            .unwrap_err();
        let waited = start.elapsed();
        assert!(err.is_timeout(), "{err}");
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_millis(1200), "{waited:?}");
        drop(client);
        let _ = go_tx.send(());
        peer.join().unwrap();
    });
}
