//! Bytes a write reported written must reach the peer even when the event loop is torn
//! down right after (the common `event::run(async { ...; sock.write(..).await })` shape).
mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use event::{EventLoop, Socket, SocketAddress};

/// A std peer on a thread that waits `delay`, then reads to end of stream; returns what it got.
fn slow_peer(
    delay: Duration,
    pause_at: usize,
) -> (SocketAddress, std::thread::JoinHandle<Vec<u8>>) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // Small kernel buffers on the peer, so the writer's send really waits for the reader.
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    sock.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    sock.listen(8).unwrap();
    let l: TcpListener = sock.into();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        std::thread::sleep(delay);
        // A slow, steady reader: the writer's kernel buffers stay full the whole time.
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return out,
                Err(e) => panic!("peer: no end of stream after {} bytes: {e}", out.len()),
                Ok(n) => {
                    let before = out.len();
                    out.extend_from_slice(&buf[..n]);
                    if before < pause_at && out.len() >= pause_at {
                        // Near the end, the reader stalls for a while (a busy peer): the
                        // writer's last bytes are still in flight when its loop is dropped.
                        std::thread::sleep(Duration::from_millis(1500));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    (SocketAddress::localhost(port), h)
}

fn check(what: &str, write: impl AsyncFnOnce(&Socket, Vec<u8>)) {
    let len = 4 * 1024 * 1024;
    let data = common::pattern(len, 7);
    let (addr, peer) = slow_peer(Duration::from_millis(300), len - 300 * 1024);
    {
        let lp = EventLoop::new().unwrap();
        let d = data.clone();
        lp.block_on(async move {
            let s = Socket::connect(addr).await.unwrap();
            socket2::SockRef::from(&s)
                .set_send_buffer_size(64 * 1024)
                .unwrap();
            write(&s, d).await;
            // `s` dropped here: its write-behind bytes keep going while the peer takes them.
        });
        eprintln!(
            "{what}: backend {} stats after block_on: {:?}",
            lp.backend(),
            lp.stats()
        );
        // The loop is dropped right after: every byte the write reported must still arrive.
    }
    let got = peer.join().unwrap();
    assert_eq!(
        got.len(),
        data.len(),
        "{what}: write reported {} bytes written, the peer got {} after the loop was dropped",
        data.len(),
        got.len()
    );
    assert!(got == data, "{what}: bytes differ");
}

#[test]
fn write_then_loop_drop_delivers_every_byte() {
    check("write", async |s, d| s.write(&d).await.unwrap());
}

#[test]
fn write_owned_then_loop_drop_delivers_every_byte() {
    check("write_owned", async |s, d| {
        let (r, _) = s.write_owned(d).await;
        r.unwrap()
    });
}
