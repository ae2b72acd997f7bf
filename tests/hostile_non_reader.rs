//! Hostile clients: 50 peers each send up to 16 MiB to the echo server and read nothing. What
//! the server holds for them in user space must stay bounded per peer (its RSS growth is
//! measured and printed), it must still serve a fresh client while they sit there, and once they
//! close its descriptor count must come back to where it was. Half of them then read their echo
//! back (every byte checked), the other half close with it unread.
mod common;

use std::io::ErrorKind;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::clients::{
    IO_TIMEOUT, Pattern, ReadEnd, StreamPlan, Streamer, connect, mib, ping_pong, read_and_check,
    send_pattern, set_timeouts, summary,
};
use common::echo_process::EchoServer;

/// The bound on the server's RSS growth per peer that never reads, in KiB. The echo example's
/// own 64 KiB buffer is in every figure (epoll measures about 65 KiB); io_uring adds at most
/// 64 KiB of received and 64 KiB of to-send bytes per connection, plus allocator slack (it
/// measured 180-240 KiB; before the inbox cap it was 750-970 KiB).
const MAX_RSS_PER_NON_READER_KIB: u64 = 320;

const PEERS: u64 = 50;
const SEND_AT_MOST: u64 = 16 << 20;
/// A peer stops sending once a write takes nothing for this long (the kernel took all it will).
const STALL: Duration = Duration::from_secs(2);

struct Hog {
    stream: TcpStream,
    sent: u64,
    error: Option<String>,
}

fn hog(addr: std::net::SocketAddr, seed: u64) -> Hog {
    let mut stream = connect(addr);
    stream.set_write_timeout(Some(STALL)).unwrap();
    let sent = AtomicU64::new(0);
    let r = send_pattern(
        &mut stream,
        &Pattern::new(seed),
        &sent,
        SEND_AT_MOST,
        64 * 1024,
        None,
        &AtomicBool::new(false),
    );
    let error = match r {
        Ok(()) => None,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => Some(e.to_string()),
    };
    Hog {
        stream,
        sent: sent.load(Ordering::Relaxed),
        error,
    }
}

#[test]
fn peers_that_never_read_cost_bounded_memory_and_do_not_stop_service() {
    let Some(echo) = EchoServer::start("hostile_non_reader", &[]) else {
        return;
    };
    // Warm up: buffers the server allocates once (not per peer) are in the baseline.
    let warm: Vec<Streamer> = (0..4)
        .map(|i| {
            let plan = StreamPlan {
                limit: 8 << 20,
                ..StreamPlan::flood()
            };
            Streamer::start(echo.addr, 0x3A4A + i, plan)
        })
        .collect();
    for o in warm.into_iter().map(Streamer::finish) {
        assert!(o.whole(), "warm-up: {o:?}");
    }
    ping_pong(echo.addr, 1, 10).expect("warm-up ping-pong");
    let fds_before = echo.steady_fd_count();
    let rss_before = echo.steady_rss_kib(Duration::from_secs(3));

    let start = Instant::now();
    let addr = echo.addr;
    let hogs: Vec<Hog> = (0..PEERS)
        .map(|i| std::thread::spawn(move || hog(addr, 0x40C0 + i)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("hog panicked"))
        .collect();
    let filled_in = start.elapsed();
    for (i, h) in hogs.iter().enumerate() {
        assert!(h.error.is_none(), "hog {i}: {:?}", h.error);
    }
    let total: u64 = hogs.iter().map(|h| h.sent).sum();
    let rss_after = echo.steady_rss_kib(Duration::from_secs(5));
    let per_peer = rss_after.saturating_sub(rss_before) / PEERS;
    println!(
        "hostile_non_reader [{}]: {PEERS} peers sent {:.1} MiB each on average ({:.1}..{:.1}) \
         in {filled_in:.1?}; server RSS {rss_before} -> {rss_after} KiB: {per_peer} KiB per \
         peer (bound {MAX_RSS_PER_NON_READER_KIB})",
        echo.backend,
        mib(total / PEERS),
        mib(hogs.iter().map(|h| h.sent).min().unwrap()),
        mib(hogs.iter().map(|h| h.sent).max().unwrap()),
    );

    // A fresh client is served while they sit there.
    let times = ping_pong(echo.addr, 2, 50).expect("fresh client beside the non-readers");
    println!(
        "hostile_non_reader [{}]: fresh ping-pong {}",
        echo.backend,
        summary(&times)
    );

    // Half read their echo back, every byte checked, then close; half close with it unread.
    let readers: Vec<_> = hogs
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            std::thread::spawn(move || {
                let Hog {
                    mut stream, sent, ..
                } = h;
                if i % 2 == 1 {
                    return None;
                }
                set_timeouts(&stream, IO_TIMEOUT);
                stream.shutdown(Shutdown::Write).unwrap();
                let echoed = AtomicU64::new(0);
                let seed = 0x40C0 + i as u64;
                let end = read_and_check(&mut stream, Pattern::new(seed), &echoed);
                Some((i, sent, echoed.load(Ordering::Relaxed), end))
            })
        })
        .collect();
    let read_back: Vec<_> = readers
        .into_iter()
        .filter_map(|t| t.join().expect("reader panicked"))
        .collect();
    let fds_after = echo.wait_fd_count(fds_before, Duration::from_secs(10));

    // Every check is reported, not only the first to fail.
    let mut failures = Vec::new();
    if per_peer > MAX_RSS_PER_NON_READER_KIB {
        failures.push(format!(
            "server RSS grew by {per_peer} KiB per peer that never reads ({rss_before} -> \
             {rss_after} KiB for {PEERS} peers); bound {MAX_RSS_PER_NON_READER_KIB} KiB"
        ));
    }
    for (i, sent, echoed, end) in &read_back {
        if !(*end == ReadEnd::Eof && echoed == sent) {
            failures.push(format!(
                "hog {i} read back {echoed} of {sent} bytes: {end:?}"
            ));
        }
    }
    if fds_after != fds_before {
        failures.push(format!(
            "server descriptors {fds_before} before the non-readers, {fds_after} 10 s after \
             they closed"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
