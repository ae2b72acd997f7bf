//! A byte counted as written reaches the peer, or the peer sees a reset: never a clean end of
//! stream after missing bytes, whatever happens to the socket and the loop after the write.

mod common;

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use event::{EventLoop, Socket, SocketAddress};

const TOTAL: usize = 8 * 1024 * 1024;

/// How a peer's read of the stream ended.
#[derive(Debug)]
enum Ending {
    /// A clean end of stream after this many bytes.
    Eof(usize),
    /// A reset after this many bytes.
    Reset(usize),
}

/// A client with a small receive buffer, so the server's writes stall early.
fn slow_client(addr: SocketAddr) -> std::net::TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(32 * 1024).unwrap();
    s.connect(&addr.into()).unwrap();
    s.into()
}

/// Reads until the end, checking every byte against the pattern.
fn read_all(mut client: std::net::TcpStream, pattern: &[u8]) -> Ending {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = 0;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return Ending::Eof(got),
            Ok(n) => {
                assert_eq!(&buf[..n], &pattern[got..got + n], "wrong bytes at {got}");
                got += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Ending::Reset(got);
            }
            Err(e) => panic!("read after {got} bytes: {e}"),
        }
    }
}

/// Serves one connection on a loop of its own: writes the pattern until a write stalls for
/// 300 ms, then drops the socket (and, with `drop_loop`, the loop at once). Reports the bytes
/// counted as written and how long dropping the loop took.
fn serve_then_drop(
    linger: Duration,
    keep_loop: Duration,
) -> (SocketAddr, mpsc::Receiver<(usize, Duration)>) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lp = EventLoop::builder().linger_timeout(linger).build().unwrap();
        let written = lp.block_on(async move {
            let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            addr_tx.send(server.local_address()).unwrap();
            let peer = server.accept().await.unwrap();
            socket2::SockRef::from(&peer)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let data = common::pattern(TOTAL, 3);
            let written = match peer.write(&data).timeout(Duration::from_millis(300)).await {
                Ok(()) => TOTAL,
                Err(event::SocketError::WriteTimeout { written, .. }) => written,
                Err(e) => panic!("write: {e}"),
            };
            drop(peer);
            event::sleep(keep_loop).await;
            written
        });
        let start = Instant::now();
        drop(lp);
        done_tx.send((written, start.elapsed())).unwrap();
    });
    (addr_rx.recv().unwrap().into(), done_rx)
}

fn assert_whole_or_reset(ending: &Ending, written: usize) {
    match *ending {
        Ending::Eof(got) => assert_eq!(
            got, written,
            "a clean end of stream after {got} of {written} bytes counted as written"
        ),
        Ending::Reset(got) => assert!(got <= written),
    }
}

/// A server that writes until it stalls and drops the socket (linger timeout `linger`, loop kept
/// `keep` after), and a client that starts reading after `wait`: how its stream ended, and how
/// many bytes the server counted as written.
fn late_reader(linger: Duration, keep: Duration, wait: Duration) -> (Ending, usize) {
    let (addr, done) = serve_then_drop(linger, keep);
    let client = slow_client(addr);
    std::thread::sleep(wait);
    let ending = read_all(client, &common::pattern(TOTAL, 3));
    let (written, _) = done.recv().unwrap();
    (ending, written)
}

#[test]
fn a_socket_dropped_mid_write_delivers_every_written_byte_or_resets() {
    // The peer starts reading only after the linger timeout has passed.
    let (ending, written) = late_reader(
        Duration::from_millis(500),
        Duration::from_secs(3),
        Duration::from_secs(2),
    );
    assert!(
        written > 0 && written < TOTAL,
        "the write should have stalled"
    );
    assert_whole_or_reset(&ending, written);
}

#[test]
fn a_late_reader_within_the_linger_timeout_gets_every_byte() {
    let (ending, written) = late_reader(
        Duration::from_secs(30),
        Duration::from_secs(2),
        Duration::from_secs(1),
    );
    match ending {
        Ending::Eof(got) => assert_eq!(got, written),
        Ending::Reset(got) => panic!("reset after {got} of {written} bytes"),
    }
}

#[test]
fn dropping_the_loop_with_bytes_in_flight_is_prompt_and_never_truncates_silently() {
    // A peer that takes nothing: the dropped loop gives up after the linger timeout.
    let (addr, done) = serve_then_drop(Duration::from_millis(300), Duration::ZERO);
    let client = slow_client(addr);
    let (written, teardown) = done.recv().unwrap();
    assert!(
        teardown < Duration::from_millis(1000),
        "dropping the loop took {teardown:?}"
    );
    let ending = read_all(client, &common::pattern(TOTAL, 3));
    assert_whole_or_reset(&ending, written);
}

#[test]
fn a_drain_deadline_bounds_the_bytes_still_on_their_way() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lp = EventLoop::builder()
            .linger_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let (written, drained_in) = lp.block_on(async move {
            let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            addr_tx.send(server.local_address()).unwrap();
            let peer = server.accept().await.unwrap();
            socket2::SockRef::from(&peer)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let shutdown = event::Shutdown::new();
            let written = std::rc::Rc::new(std::cell::Cell::new(0));
            let w = written.clone();
            shutdown.spawn(async move {
                let data = common::pattern(TOTAL, 3);
                if let Err(event::SocketError::WriteTimeout { written, .. }) =
                    peer.write(&data).timeout(Duration::from_millis(300)).await
                {
                    w.set(written);
                }
            });
            event::sleep(Duration::from_millis(500)).await;
            let start = Instant::now();
            shutdown.drain(Duration::from_millis(500)).await;
            (written.get(), start.elapsed())
        });
        let start = Instant::now();
        drop(lp);
        done_tx
            .send((written, drained_in, start.elapsed()))
            .unwrap();
    });
    let client = slow_client(addr_rx.recv().unwrap().into());
    let (written, drained_in, teardown) = done_rx.recv().unwrap();
    assert!(written > 0, "the write should have stalled");
    assert!(
        drained_in < Duration::from_millis(900) && teardown < Duration::from_millis(300),
        "a 500 ms drain took {drained_in:?}, then dropping the loop {teardown:?}"
    );
    let ending = read_all(client, &common::pattern(TOTAL, 3));
    assert_whole_or_reset(&ending, written);
}
