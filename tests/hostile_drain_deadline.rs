//! Hostile conditions: clients stop reading (their echo backs up in the server), then SIGTERM
//! with `--drain-timeout 2`. Their connections cannot finish, so the server must cut them at
//! the deadline and exit then: not before it, and not seconds after it (issue 17: io_uring
//! waited 2 s more for the sends lingering on the cut connections).
mod common;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::clients::{Pattern, connect, mib, ping_pong, send_pattern};
use common::echo_process::EchoServer;

const CLIENTS: u64 = 4;
const DRAIN: Duration = Duration::from_secs(2);
/// Margin past the deadline allowed for the exit (the goal is 0.5 s; this keeps the test robust
/// on a loaded machine).
const OVERSHOOT: Duration = Duration::from_millis(1500);
/// Margin before the deadline (timer and scheduling slack).
const EARLY: Duration = Duration::from_millis(100);

/// A client that sends until the kernel takes no more (the echo is never read).
fn stalled_client(addr: std::net::SocketAddr, seed: u64) -> (TcpStream, u64) {
    let mut s = connect(addr);
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let sent = AtomicU64::new(0);
    match send_pattern(
        &mut s,
        &Pattern::new(seed),
        &sent,
        64 << 20,
        64 * 1024,
        None,
        &AtomicBool::new(false),
    ) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("client {seed:#x}: expected to stall, got {other:?}"),
    }
    (s, sent.load(Ordering::Relaxed))
}

#[test]
fn drain_deadline_is_kept_with_clients_that_stopped_reading() {
    let Some(mut echo) = EchoServer::start("hostile_drain_deadline", &["--drain-timeout", "2"])
    else {
        return;
    };
    let addr = echo.addr;
    let clients: Vec<(TcpStream, u64)> = (0..CLIENTS)
        .map(|i| std::thread::spawn(move || stalled_client(addr, 0xD3AD + i)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    // Every stalled connection is being served (the server is writing to it) before the signal.
    ping_pong(echo.addr, 1, 10).expect("a fresh client beside the stalled ones");

    echo.signal(libc::SIGTERM);
    let signalled = Instant::now();
    let status = echo.wait_exit(DRAIN + Duration::from_secs(8));
    let exited = signalled.elapsed();
    println!(
        "hostile_drain_deadline [{}]: {CLIENTS} stalled clients ({:.1} MiB sent each on average); \
         exit {exited:.3?} after SIGTERM with --drain-timeout {DRAIN:?} ({:+.3} s past the \
         deadline; allowed {OVERSHOOT:?}); server said {:?}",
        echo.backend,
        mib(clients.iter().map(|c| c.1).sum::<u64>() / CLIENTS),
        exited.as_secs_f64() - DRAIN.as_secs_f64(),
        echo.stdout().trim()
    );
    drop(clients);
    let status = status.unwrap_or_else(|| panic!("no exit {exited:?} after SIGTERM"));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; stderr: {}",
        echo.stderr()
    );
    assert!(
        exited + EARLY >= DRAIN,
        "exited {exited:?} after SIGTERM, before the drain deadline of {DRAIN:?}, with \
         connections that could not finish"
    );
    assert!(
        exited < DRAIN + OVERSHOOT,
        "exited {exited:?} after SIGTERM: past the drain deadline of {DRAIN:?} by more than \
         {OVERSHOOT:?}"
    );
}
