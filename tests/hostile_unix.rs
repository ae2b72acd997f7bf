//! Hostile clients against the Unix-domain stream echo example (`unix_echo`), plain std
//! `UnixStream`s on a socket file in a temporary directory, every byte they send drawn from a
//! per-connection pattern and every byte echoed back checked against it (common/clients.rs).
//!
//! - Two peers flood the server beside a third doing 64-byte ping-pong: the ping-pong makes at
//!   least `MIN_ROUND_TRIPS` round trips within a bound and every byte of all three comes back.
//! - Peers that send and never read cost the server at most `MAX_RSS_PER_NON_READER_KIB` each;
//!   a fresh client is served meanwhile; those that then read get every byte back, and once all
//!   close the server's descriptor count is back where it was.
//! - Peers that close abruptly with echo unread (which the kernel reports to the server as a
//!   reset, ECONNRESET), some after reading part of it, leave the server serving a bystander
//!   streaming beside them (every byte checked) and new clients, and leak no descriptor.
//! - Churn of many short connections (64 checked bytes each) leaves the server's descriptor
//!   count exactly where it was and its memory within `RSS_MARGIN_KIB`.
//!
//! The tests take turns (a lock), so no flood competes with another test for the cores.
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::clients::{
    Checker, IO_TIMEOUT, Pattern, PingPong, ReadEnd, StreamPlan, Streamer, connect_unix, mib,
    read_and_check, send_pattern, summary, wait_until,
};
use common::echo_process::EchoServer;
use common::unix::TempDir;

/// The ping-pong runs at least this long beside the flood...
const PING_FOR: Duration = Duration::from_secs(3);
/// ...and must complete at least this many round trips...
const MIN_ROUND_TRIPS: usize = 50;
/// ...within this long.
const PROGRESS_LIMIT: Duration = Duration::from_secs(8);
/// The bound of hostile_non_reader.rs on the server's RSS growth per peer that never reads:
/// the echo's 64 KiB buffer, and on io_uring up to 64 KiB received and 64 KiB to send.
const MAX_RSS_PER_NON_READER_KIB: u64 = 320;
const NON_READERS: u64 = 50;
/// A non-reader stops once a write takes nothing for this long (the kernel took all it will).
const STALL: Duration = Duration::from_secs(2);
/// Abrupt closes: threads, and peers per thread.
const RESET_THREADS: u64 = 4;
const RESETS_PER_THREAD: u64 = 25;
/// Churn: threads and cycles in all, and cycles before the baseline is taken.
const CHURN_THREADS: u64 = 4;
const CHURN_CYCLES: u64 = 20_000;
const CHURN_WARM_UP: u64 = 2_000;
/// Resident memory may differ by this much after the churn.
const RSS_MARGIN_KIB: u64 = 4 * 1024;

static SERIAL: Mutex<()> = Mutex::new(());

/// The server and the directory of its socket (the server is dropped first).
struct Served {
    echo: EchoServer<PathBuf>,
    _dir: TempDir,
    _turn: MutexGuard<'static, ()>,
}

/// Starts unix_echo on a fresh socket path, once the previous test has finished.
fn start(name: &str) -> Option<Served> {
    let turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new(name);
    let echo = EchoServer::start_unix(name, &dir.join("echo.sock"), &[])?;
    Some(Served {
        echo,
        _dir: dir,
        _turn: turn,
    })
}

/// A fresh client does `n` 64-byte round trips, every echo checked, then closes cleanly.
fn ping_pong(path: &Path, seed: u64, n: usize) -> Result<Vec<Duration>, String> {
    let mut p = PingPong::over(connect_unix(path), seed, 64);
    let times = p.round_trips(n)?;
    p.close()?;
    Ok(times)
}

#[test]
fn unix_ping_pong_makes_progress_beside_two_flooders_and_every_byte_is_echoed() {
    let Some(served) = start("hostile_unix") else {
        return;
    };
    let echo = &served.echo;
    let path = &echo.addr;
    let flooders: Vec<Streamer> = (0..2)
        .map(|i| Streamer::over(connect_unix(path), 0xF100D + i, StreamPlan::flood()))
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || flooders
            .iter()
            .all(|f| f.echoed() >= 4 << 20)),
        "the flooders got {:?} bytes back in 10 s",
        flooders.iter().map(Streamer::echoed).collect::<Vec<_>>()
    );
    let mut ping = PingPong::over(connect_unix(path), 0x9196, 64);
    let start = Instant::now();
    let mut times = Vec::new();
    let mut failure = None;
    while (start.elapsed() < PING_FOR || times.len() < MIN_ROUND_TRIPS)
        && start.elapsed() < PROGRESS_LIMIT
    {
        match ping.round_trip() {
            Ok(t) => times.push(t),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let pinged_for = start.elapsed();
    for f in &flooders {
        f.stop();
    }
    let outcomes: Vec<_> = flooders.into_iter().map(Streamer::finish).collect();
    let closed = ping.close();
    println!(
        "hostile_unix [{}]: ping-pong {} in {pinged_for:.1?}; flooders echoed {:.0} and {:.0} MiB",
        echo.backend,
        summary(&times),
        mib(outcomes[0].echoed),
        mib(outcomes[1].echoed)
    );
    if let Some(e) = failure {
        panic!("ping-pong failed after {} round trips: {e}", times.len());
    }
    closed.expect("ping-pong close");
    for o in &outcomes {
        assert!(o.whole(), "flooder: {o:?}");
    }
    assert!(
        times.len() >= MIN_ROUND_TRIPS,
        "only {} round trips in {pinged_for:?} beside the flood",
        times.len()
    );
}

/// Sends up to 16 MiB and reads nothing, until a write takes nothing for `STALL`; returns the
/// stream and how much it sent.
fn hog(path: &Path, seed: u64) -> Result<(UnixStream, u64), String> {
    let mut stream = connect_unix(path);
    stream.set_write_timeout(Some(STALL)).unwrap();
    let sent = AtomicU64::new(0);
    let pattern = Pattern::new(seed);
    let stop = AtomicBool::new(false);
    match send_pattern(
        &mut stream,
        &pattern,
        &sent,
        16 << 20,
        64 * 1024,
        None,
        &stop,
    ) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Err(e) => return Err(format!("hog {seed:#x}: {e}")),
    }
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    Ok((stream, sent.load(Ordering::Relaxed)))
}

/// Half-closes a hog and reads its echo back, every byte checked.
fn read_back(mut stream: UnixStream, seed: u64, sent: u64) -> Result<(), String> {
    stream.shutdown(Shutdown::Write).unwrap();
    let echoed = AtomicU64::new(0);
    let end = read_and_check(&mut stream, Pattern::new(seed), &echoed);
    let echoed = echoed.load(Ordering::Relaxed);
    if end == ReadEnd::Eof && echoed == sent {
        Ok(())
    } else {
        Err(format!(
            "hog {seed:#x} read back {echoed} of {sent} bytes: {end:?}"
        ))
    }
}

#[test]
fn unix_peers_that_never_read_cost_bounded_memory_and_do_not_stop_service() {
    let Some(served) = start("hostile_unix") else {
        return;
    };
    let echo = &served.echo;
    let path = echo.addr.clone();
    let warm: Vec<Streamer> = (0..4)
        .map(|i| {
            let plan = StreamPlan {
                limit: 8 << 20,
                ..StreamPlan::flood()
            };
            Streamer::over(connect_unix(&path), 0x3A4A + i, plan)
        })
        .collect();
    for o in warm.into_iter().map(Streamer::finish) {
        assert!(o.whole(), "warm-up: {o:?}");
    }
    ping_pong(&path, 1, 10).expect("warm-up ping-pong");
    let fds_before = echo.steady_fd_count();
    let rss_before = echo.steady_rss_kib(Duration::from_secs(3));

    let hogs: Vec<(UnixStream, u64)> = (0..NON_READERS)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || hog(&path, 0x40C0 + i))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("hog panicked").unwrap())
        .collect();
    let total: u64 = hogs.iter().map(|h| h.1).sum();
    let rss_after = echo.steady_rss_kib(Duration::from_secs(5));
    let per_peer = rss_after.saturating_sub(rss_before) / NON_READERS;
    let times = ping_pong(&path, 2, 50);
    println!(
        "hostile_unix [{}]: {NON_READERS} non-readers sent {:.2} MiB each on average; server \
         RSS {rss_before} -> {rss_after} KiB: {per_peer} KiB per peer (bound \
         {MAX_RSS_PER_NON_READER_KIB}); fresh ping-pong {:?}",
        echo.backend,
        mib(total / NON_READERS),
        times.as_ref().map(|t| summary(t))
    );
    times.expect("fresh client beside the non-readers");
    // Half read their echo back, every byte checked; half close with it unread.
    let readers: Vec<_> = hogs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, (stream, sent))| {
            std::thread::spawn(move || read_back(stream, 0x40C0 + i as u64, sent))
        })
        .collect();
    let read: Vec<_> = readers.into_iter().map(|t| t.join().unwrap()).collect();
    let fds_after = echo.wait_fd_count(fds_before, Duration::from_secs(10));
    assert!(
        per_peer <= MAX_RSS_PER_NON_READER_KIB,
        "server RSS grew by {per_peer} KiB per peer that never reads"
    );
    for r in read {
        r.unwrap();
    }
    assert_eq!(
        fds_after, fds_before,
        "server descriptors after the non-readers closed"
    );
}

/// Sends up to 1 MiB (until a write stalls), reading and checking the first `read_first`
/// bytes of the echo meanwhile, then drops the socket with the rest of its echo unread.
fn send_then_drop(path: &Path, seed: u64, read_first: usize) -> Result<(), String> {
    let s = connect_unix(path);
    let pattern = Pattern::new(seed);
    let reader = (read_first > 0).then(|| {
        let mut r = s.try_clone().unwrap();
        let pattern = pattern.clone();
        std::thread::spawn(move || -> Result<UnixStream, String> {
            let mut back = vec![0; read_first];
            r.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
            Checker::new(pattern).check(&back)?;
            Ok(r)
        })
    });
    let mut w = s;
    w.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let sent = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    match send_pattern(&mut w, &pattern, &sent, 1 << 20, 64 * 1024, None, &stop) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Err(e) => return Err(format!("client {seed:#x} send: {e}")),
    }
    let _clone = reader.map(|t| t.join().unwrap()).transpose()?;
    // Dropping both descriptors with echo unread: the server's side is reset.
    Ok(())
}

#[test]
fn unix_abrupt_closes_leave_the_server_serving_and_leak_nothing() {
    let Some(mut served) = start("hostile_unix") else {
        return;
    };
    let echo = &mut served.echo;
    let path = echo.addr.clone();
    ping_pong(&path, 3, 10).expect("warm-up ping-pong");
    let fds_before = echo.steady_fd_count();
    let plan = StreamPlan {
        limit: 64 << 20,
        ..StreamPlan::flood()
    };
    let bystander = Streamer::over(connect_unix(&path), 0xB75, plan);
    let threads: Vec<_> = (0..RESET_THREADS)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || -> Result<(), String> {
                for i in 0..RESETS_PER_THREAD {
                    let read_first = [0, 1, 64 * 1024][(i % 3) as usize];
                    send_then_drop(&path, (t << 32) + i, read_first)?;
                }
                Ok(())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let after = ping_pong(&path, 4, 20);
    let outcome = bystander.finish();
    let fds_after = echo.wait_fd_count(fds_before, Duration::from_secs(10));
    println!(
        "hostile_unix [{}]: {} abrupt closes; bystander echoed {:.0} MiB; the server reported \
         {} errors; fds {fds_before} -> {fds_after}",
        echo.backend,
        RESET_THREADS * RESETS_PER_THREAD,
        mib(outcome.echoed),
        echo.stderr().lines().count()
    );
    for r in results {
        r.unwrap();
    }
    assert!(echo.alive(), "the server exited: {}", echo.stderr());
    after.expect("a new client after the abrupt closes");
    assert!(outcome.whole(), "bystander: {outcome:?}");
    assert_eq!(
        fds_after, fds_before,
        "server descriptors after the abrupt closes"
    );
}

/// `cycles` connect / echo 64 bytes / close cycles from `CHURN_THREADS` threads.
fn churn(path: &Path, cycles: u64, seed: u64) -> Result<(), String> {
    let threads: Vec<_> = (0..CHURN_THREADS)
        .map(|t| {
            let path = path.to_path_buf();
            std::thread::spawn(move || -> Result<(), String> {
                let pattern = Pattern::new(seed + t);
                let mut back = [0u8; 64];
                for i in 0..cycles / CHURN_THREADS {
                    let msg = pattern.bytes(i * 64, 64);
                    let mut s = connect_unix(&path);
                    s.write_all(&msg)
                        .map_err(|e| format!("write {t}/{i}: {e}"))?;
                    s.read_exact(&mut back)
                        .map_err(|e| format!("read {t}/{i}: {e}"))?;
                    if back[..] != msg[..] {
                        return Err(format!("cycle {t}/{i}: echo altered"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect::<Result<Vec<()>, String>>()
        .map(drop)
}

#[test]
fn unix_churn_leaves_descriptors_and_memory_where_they_were() {
    let Some(served) = start("hostile_unix") else {
        return;
    };
    let echo = &served.echo;
    churn(&echo.addr, CHURN_WARM_UP, 0).expect("warm-up");
    let fds_before = echo.steady_fd_count();
    let rss_before = echo.steady_rss_kib(Duration::from_secs(3));
    let start = Instant::now();
    let result = churn(&echo.addr, CHURN_CYCLES, 1 << 40);
    let elapsed = start.elapsed();
    let fds_after = echo.wait_fd_count(fds_before, Duration::from_secs(10));
    let rss_after = echo.steady_rss_kib(Duration::from_secs(3));
    println!(
        "hostile_unix [{}]: {CHURN_CYCLES} cycles from {CHURN_THREADS} threads in {elapsed:.2?} \
         ({:.0}/s); fds {fds_before} -> {fds_after}; RSS {rss_before} -> {rss_after} KiB",
        echo.backend,
        CHURN_CYCLES as f64 / elapsed.as_secs_f64()
    );
    result.expect("churn");
    assert_eq!(fds_after, fds_before, "server descriptors after the churn");
    assert!(
        rss_after <= rss_before + RSS_MARGIN_KIB,
        "server RSS grew from {rss_before} to {rss_after} KiB over {CHURN_CYCLES} cycles"
    );
}
