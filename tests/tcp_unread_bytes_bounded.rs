//! A peer that sends while the task does not read: the connection's buffered bytes stay bounded
//! (on io_uring the multishot receive is cancelled above a high-water mark and the kernel's flow
//! control stops the sender), and reading later resumes with every byte in order, then end of
//! stream. Alone in its test binary so that the process's resident memory means something.
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use event::{EventLoop, Socket, SocketAddress, SocketError};

const TOTAL: usize = 96 << 20;

fn byte_at(i: usize) -> u8 {
    let x = i as u64;
    ((x ^ (x >> 11) ^ (x >> 19)).wrapping_mul(131) >> 3) as u8
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[test]
fn unread_bytes_stay_bounded_and_reading_later_gets_them_all_in_order() {
    let lp = EventLoop::new().unwrap();
    let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
    let addr: std::net::SocketAddr = server.local_address().into();
    let sent = Arc::new(AtomicUsize::new(0));
    let client = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_send_buffer_size(256 * 1024).unwrap();
            s.connect(&addr.into()).unwrap();
            let mut s: std::net::TcpStream = s.into();
            let mut chunk = vec![0u8; 64 * 1024];
            let mut off = 0;
            while off < TOTAL {
                let n = chunk.len().min(TOTAL - off);
                for (k, b) in chunk[..n].iter_mut().enumerate() {
                    *b = byte_at(off + k);
                }
                s.write_all(&chunk[..n]).unwrap();
                off += n;
                sent.store(off, Ordering::Relaxed);
            }
            // Close: the server reads end of stream after the last byte.
        })
    };
    let lp = &lp;
    lp.block_on(async {
        let work = async {
            let conn = server.accept().await.unwrap();
            socket2::SockRef::from(&conn)
                .set_recv_buffer_size(256 * 1024)
                .unwrap();
            // One read: the connection has started receiving. Then the task stops reading.
            let first = conn.read(1000).await.unwrap();
            let mut pos = 0;
            for b in &first {
                assert_eq!(*b, byte_at(pos));
                pos += 1;
            }
            let rss_before = rss_kib();
            event::sleep(Duration::from_millis(1500)).await;
            let stalled_at = sent.load(Ordering::Relaxed);
            let rss_after = rss_kib();
            let stats = lp.stats();
            eprintln!("{}: peer stalled after {stalled_at} bytes; RSS {rss_before} -> {rss_after} KiB; {stats:?}", lp.backend());
            // The peer is stopped by flow control: the kernel's buffers (256 KiB each side,
            // doubled by the kernel) plus the library's own bounded buffering.
            assert!(
                stalled_at < 24 << 20,
                "a task that does not read let the peer send {stalled_at} bytes ({})",
                lp.backend()
            );
            assert!(
                rss_after < rss_before + 48 * 1024,
                "resident memory grew from {rss_before} KiB to {rss_after} KiB while not reading"
            );
            assert!(stats.operations <= 2, "{stats:?}");
            // Read everything now, in small and large reads, checking every byte.
            let mut sizes = [1usize, 7, 4096, 65536, 300_000].iter().cycle();
            loop {
                match conn.read(*sizes.next().unwrap()).await {
                    Ok(bytes) => {
                        for b in &bytes {
                            if *b != byte_at(pos) {
                                panic!("byte {pos} differs");
                            }
                            pos += 1;
                        }
                    }
                    Err(SocketError::ConnectionClosed) => break,
                    Err(e) => panic!("after {pos} bytes: {e:?}"),
                }
            }
            assert_eq!(pos, TOTAL);
        };
        event::timeout(Duration::from_secs(120), work)
            .await
            .expect("did not finish in 120 s");
    });
    client.join().unwrap();
    // Everything settled and the listener closed (on io_uring its multishot accept stays armed
    // while it lives): no operation left in flight.
    drop(server);
    lp.block_on(event::sleep(Duration::from_millis(20)));
    assert_eq!(lp.stats().operations, 0, "{:?}", lp.stats());
}
