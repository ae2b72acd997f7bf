//! A write timeout bounds a stall, not the write: a large write to a peer that reads slowly
//! but steadily (each read well inside the timeout) is never cut, however long it takes; once
//! the peer stops reading, the write fails with a timeout no earlier than the whole timeout
//! after the peer stopped, and not long after. Through the traits (the socket's default write
//! timeout, io_uring's write-behind progress restarting it) and natively (`write().timeout`).
mod common;

use std::future::poll_fn;
use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event::{Socket, SocketError};
use futures_io::AsyncWrite;

const TIMEOUT: Duration = Duration::from_millis(300);
/// How often the peer reads a chunk.
const EVERY: Duration = Duration::from_millis(50);
/// How long the peer reads before it stops.
const READING: Duration = Duration::from_millis(1200);
const TOTAL: usize = 64 * 1024 * 1024;

/// A peer with a small receive buffer that reads 16 KiB every `EVERY` for `READING`, then
/// stops reading (keeping the connection open) and records when.
fn slow_then_stopped_peer(addr: std::net::SocketAddr) -> (Peer, Arc<Mutex<Option<Instant>>>) {
    let stopped = Arc::new(Mutex::new(None));
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let mark = stopped.clone();
    let peer = std::thread::spawn(move || {
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        s.set_recv_buffer_size(32 * 1024).unwrap();
        s.connect(&addr.into()).unwrap();
        let mut s: std::net::TcpStream = s.into();
        let start = Instant::now();
        let mut got = 0;
        let mut buf = vec![0u8; 16 * 1024];
        while start.elapsed() < READING {
            std::thread::sleep(EVERY);
            got += s.read(&mut buf).unwrap();
        }
        *mark.lock().unwrap() = Some(Instant::now());
        // Silent, connection open, until the test is done (at most 3 s).
        let _ = done_rx.recv_timeout(Duration::from_secs(3));
        got
    });
    (Peer { thread: peer, done }, stopped)
}

struct Peer {
    thread: std::thread::JoinHandle<usize>,
    done: std::sync::mpsc::Sender<()>,
}

impl Peer {
    fn finish(self) -> usize {
        let _ = self.done.send(());
        self.thread.join().unwrap()
    }
}

/// Checks when the write failed against when the peer stopped.
fn check_timing(start: Instant, failed: Instant, stopped: &Mutex<Option<Instant>>) {
    let stopped = stopped
        .lock()
        .unwrap()
        .unwrap_or_else(|| panic!("cut after {:?}, while the peer was reading", failed - start));
    let after_stop = failed.saturating_duration_since(stopped);
    // The stall starts at the last read that let the writer on: the peer's last reads may
    // free too little room to wake it (the kernel wakes a writer once a third of its buffer
    // is free), so one of the reads before (`EVERY` apart, or more on a busy machine) counts.
    assert!(
        after_stop + 2 * EVERY >= TIMEOUT,
        "timed out {after_stop:?} after the peer stopped reading"
    );
    assert!(
        after_stop < Duration::from_secs(3),
        "timed out late: {after_stop:?} after the peer stopped reading"
    );
}

async fn accept_small_send_buffer(server: &event::ServerSocket) -> Socket {
    let client = server.accept().await.unwrap();
    socket2::SockRef::from(&client)
        .set_send_buffer_size(32 * 1024)
        .unwrap();
    client
}

#[test]
fn a_trait_write_to_a_slow_reader_is_cut_only_once_it_stops() {
    common::run(async {
        let server = common::listen_local();
        let (peer, stopped) = slow_then_stopped_peer(server.local_address().to_std());
        let mut client = &accept_small_send_buffer(&server).await;
        client.set_write_timeout(Some(TIMEOUT));
        let data = vec![0x5au8; 256 * 1024];
        let start = Instant::now();
        let mut sent = 0usize;
        let err = loop {
            if sent >= TOTAL {
                panic!("the peer took {sent} bytes");
            }
            let r = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, &data)).await;
            match r {
                Ok(n) => sent += n,
                Err(e) => break e,
            }
        };
        let failed = Instant::now();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        check_timing(start, failed, &stopped);
        drop(server);
        assert!(peer.finish() > 0);
    });
}

#[test]
fn a_native_write_to_a_slow_reader_is_cut_only_once_it_stops() {
    common::run(async {
        let server = common::listen_local();
        let (peer, stopped) = slow_then_stopped_peer(server.local_address().to_std());
        let client = accept_small_send_buffer(&server).await;
        let data = vec![0xa5u8; TOTAL];
        let start = Instant::now();
        let err = client.write(&data).timeout(TIMEOUT).await.unwrap_err();
        let failed = Instant::now();
        assert!(
            matches!(err, SocketError::WriteTimeout { written, .. } if written > 0),
            "{err}"
        );
        check_timing(start, failed, &stopped);
        drop(client);
        drop(server);
        assert!(peer.finish() > 0);
    });
}
