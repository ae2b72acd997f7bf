//! Hostile clients: several peers each send 4 MiB, half-close, wait, then read. Each must get
//! exactly its 4 MiB back, as sent, then a clean end of stream: a short stream followed by a
//! clean EOF (issue 17: a lingering send that gives up with a FIN) is the failure this catches.
mod common;

use std::io::Write;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::clients::{Pattern, ReadEnd, connect, read_and_check};
use common::echo_process::EchoServer;

const CLIENTS: u64 = 8;
const STREAM: usize = 4 << 20;
/// How long each client waits after its half-close before it reads a byte.
const WAIT: Duration = Duration::from_secs(3);

#[test]
fn late_readers_after_half_close_get_every_byte_then_eof() {
    let Some(echo) = EchoServer::start("hostile_late_reader", &[]) else {
        return;
    };
    let fds_before = echo.steady_fd_count();
    let addr = echo.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let seed = 0x1A7E + i;
                let pattern = Pattern::new(seed);
                let mut s = connect(addr);
                let start = Instant::now();
                // Written by a helper thread, so a kernel that takes less than 4 MiB before the
                // echo is read cannot deadlock the test: the reader starts WAIT after the
                // half-close, or after a stall of WAIT if the write never completes.
                let mut w = s.try_clone().unwrap();
                let data = pattern.bytes(0, STREAM);
                let writer = std::thread::spawn(move || {
                    let r = w
                        .write_all(&data)
                        .and_then(|()| w.shutdown(Shutdown::Write));
                    (r.map_err(|e| e.to_string()), Instant::now())
                });
                while !writer.is_finished() && start.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let written_in = start.elapsed();
                std::thread::sleep(WAIT);
                let echoed = AtomicU64::new(0);
                let end = read_and_check(&mut s, pattern, &echoed);
                let (write, _) = writer.join().unwrap();
                (i, write, written_in, echoed.load(Ordering::Relaxed), end)
            })
        })
        .collect();
    let results: Vec<_> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    let slowest = results.iter().map(|r| r.2).max().unwrap();
    println!(
        "hostile_late_reader [{}]: {CLIENTS} x {} MiB written and half-closed in at most \
         {slowest:.1?}, then read {WAIT:?} later",
        echo.backend,
        STREAM >> 20
    );
    for (i, write, _, echoed, end) in &results {
        assert!(write.is_ok(), "client {i}: writing 4 MiB: {write:?}");
        assert!(
            *end == ReadEnd::Eof && *echoed == STREAM as u64,
            "client {i}: got {echoed} of {STREAM} bytes back, then {end:?}"
        );
    }
    let fds_after = echo.wait_fd_count(fds_before, Duration::from_secs(10));
    assert_eq!(
        fds_after, fds_before,
        "server descriptors after the clients"
    );
}
