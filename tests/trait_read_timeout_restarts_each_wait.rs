//! A socket's default read timeout, through `AsyncRead` (what hyper and every futures-io crate
//! use), bounds each wait from the moment it starts. The driver keeps the timer of an earlier
//! wait armed across reads (it fires early at most once): that early fire must never end a
//! read that has waited less than the timeout, and a timeout made shorter in between must
//! not wait for the longer one's timer.
mod common;

use std::future::poll_fn;
use std::io::{ErrorKind, Write};
use std::pin::Pin;
use std::time::{Duration, Instant};

use event::{ListenOptions, Socket};
use futures_io::AsyncRead;

const IDLE: Duration = Duration::from_millis(300);

/// One `AsyncRead::poll_read` of up to 16 bytes.
async fn trait_read(mut socket: &Socket) -> std::io::Result<usize> {
    let mut buf = [0u8; 16];
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, &mut buf)).await
}

#[test]
fn each_wait_gets_the_whole_timeout_however_long_the_connection_lives() {
    common::run(async {
        let server = ListenOptions::new()
            .idle_timeout(IDLE)
            .listen_on("127.0.0.1:0")
            .unwrap();
        let addr = server.local_address().to_std();
        // A byte every 200 ms, three times: each inside the timeout from the one before, the
        // last well past the first wait's deadline. Then silence with the connection open.
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(200));
                s.write_all(b"x").unwrap();
            }
            std::thread::sleep(IDLE * 2);
        });
        let client = server.accept().await.unwrap();
        for i in 0..3 {
            let n = trait_read(&client).await;
            assert!(matches!(n, Ok(1)), "read {i}: {n:?}");
        }
        let last = Instant::now();
        let err = trait_read(&client).await.unwrap_err();
        let waited = last.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(waited >= IDLE - Duration::from_millis(5), "{waited:?}");
        assert!(waited < IDLE * 3, "{waited:?}");
        peer.join().unwrap();
    });
}

#[test]
fn a_shorter_timeout_set_between_reads_is_not_held_up_by_the_longer_ones_timer() {
    common::run(async {
        let server = common::listen_local();
        let addr = server.local_address().to_std();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            s.write_all(b"x").unwrap();
            std::thread::sleep(Duration::from_secs(1));
        });
        let client = server.accept().await.unwrap();
        // The first read waits under a long timeout (its timer armed 20 s ahead).
        client.set_read_timeout(Some(Duration::from_secs(20)));
        assert!(matches!(trait_read(&client).await, Ok(1)));
        client.set_read_timeout(Some(Duration::from_millis(200)));
        let start = Instant::now();
        let err = trait_read(&client).await.unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(waited >= Duration::from_millis(195), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        peer.join().unwrap();
    });
}
