//! A socket's default read timeout made longer between trait-level reads: the next wait gets
//! the longer timeout. The timer armed for the shorter one stays in the wheel and fires early
//! (well inside the new wait); that fire must not end the read, and the read ends at the
//! longer timeout, not long after it. Made shorter but still ending after the old deadline,
//! it is not held up either.
mod common;

use std::future::poll_fn;
use std::io::{ErrorKind, Write};
use std::pin::Pin;
use std::time::{Duration, Instant};

use event::Socket;
use futures_io::AsyncRead;

async fn trait_read(mut socket: &Socket) -> std::io::Result<usize> {
    let mut buf = [0u8; 16];
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, &mut buf)).await
}

/// The peer thread: sends one byte 50 ms after connecting, then stays silent with the
/// connection open until `finish`.
struct Peer {
    thread: std::thread::JoinHandle<()>,
    done: std::sync::mpsc::Sender<()>,
}

impl Peer {
    fn finish(self) {
        let _ = self.done.send(());
        self.thread.join().unwrap();
    }
}

async fn one_byte_then_silence() -> (Socket, Peer) {
    let server = common::listen_local();
    let addr = server.local_address().to_std();
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"x").unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
    });
    let client = server.accept().await.unwrap();
    (client, Peer { thread, done })
}

#[test]
fn a_longer_timeout_is_not_cut_by_the_shorter_ones_timer() {
    common::run(async {
        let (client, peer) = one_byte_then_silence().await;
        // The first wait arms a timer 200 ms ahead; the byte comes at ~50 ms.
        client.set_read_timeout(Some(Duration::from_millis(200)));
        assert!(matches!(trait_read(&client).await, Ok(1)));
        let long = Duration::from_millis(1000);
        client.set_read_timeout(Some(long));
        let start = Instant::now();
        let err = trait_read(&client).await.unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(waited >= long, "cut after {waited:?} by the old timer");
        assert!(waited < long * 2, "timed out late, after {waited:?}");
        drop(client);
        peer.finish();
    });
}

#[test]
fn a_shorter_timeout_set_after_a_gap_is_whole_and_not_late() {
    common::run(async {
        let (client, peer) = one_byte_then_silence().await;
        // A 400 ms timer armed at the first wait; the byte at ~50 ms.
        client.set_read_timeout(Some(Duration::from_millis(400)));
        assert!(matches!(trait_read(&client).await, Ok(1)));
        // At ~300 ms, a 200 ms timeout: its deadline (~500 ms) is after the old one (~400 ms).
        event::sleep(Duration::from_millis(250)).await;
        let short = Duration::from_millis(200);
        client.set_read_timeout(Some(short));
        let start = Instant::now();
        let err = trait_read(&client).await.unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(waited >= short, "timed out early, after {waited:?}");
        assert!(waited < short * 4, "timed out late, after {waited:?}");
        drop(client);
        peer.finish();
    });
}
