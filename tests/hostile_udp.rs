//! Hostile clients against the UDP echo example (`udp_echo`), plain std sockets on 127.0.0.1.
//! UDP may drop under load, so what is asserted is progress within a bound (with retries) and
//! that every datagram that comes back is byte-exact to one that was sent: same length, same
//! bytes, never cut, merged or taken from another sender.
//!
//! - Two senders flood the server and never read their echoes, beside a polite peer doing
//!   request/response with 64-byte datagrams: the polite peer gets at least `MIN_ECHOES` correct
//!   echoes, and what the flooders find queued for them afterwards is theirs, whole.
//! - Under a flood of the largest datagrams the server's RSS stays within `RSS_BOUND_KIB` of its
//!   baseline, during and after, and its descriptor count never changes.
//! - Datagrams of assorted sizes, 0 to 65,507 bytes, each come back exactly.
//! - Bursts of senders that close before the echo arrives (the kernel answers the server's
//!   sends with ICMP port unreachable, counted in /proc/net/snmp) leave it serving: a new peer
//!   still gets its echoes. (Linux drops those errors for an unconnected socket without
//!   IP_RECVERR, as udp_echo's is, so this guards the server against them rather than drives
//!   its error path.)
//!
//! The tests take turns (a lock), so no flood competes with another test for the cores.
mod common;

use std::collections::HashSet;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::clients::{Pattern, mib, wait_until};
use common::echo_process::EchoServer;

/// The polite peer runs at least this long beside the flood...
const PING_FOR: Duration = Duration::from_secs(3);
/// ...and must get at least this many correct echoes...
const MIN_ECHOES: u64 = 200;
/// ...within this long.
const PROGRESS_LIMIT: Duration = Duration::from_secs(8);
/// How long a request waits for its echo before it is sent again.
const RETRY_AFTER: Duration = Duration::from_millis(200);
/// The largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;
/// The server's RSS may grow by at most this much over its baseline under the flood (the point
/// is no unbounded growth: it holds one 64 KiB buffer).
const RSS_BOUND_KIB: u64 = 64 * 1024;
/// Senders per ICMP burst, and bursts.
const CLOSED_SENDERS: usize = 300;
const BURSTS: usize = 3;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Datagram `seq` of sender `seed`, `len` bytes (at least 12): its pattern's bytes from
/// `seq << 17`, the first 8 replaced by `seq` and the next 4 by `len`, so one that comes back
/// can be checked alone.
fn datagram(pattern: &Pattern, seq: u64, len: usize) -> Vec<u8> {
    let mut d = pattern.bytes(seq << 17, len);
    d[..8].copy_from_slice(&seq.to_le_bytes());
    d[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    d
}

/// Checks a datagram that came back against the pattern it was drawn from; returns its `seq`.
fn check_datagram(pattern: &Pattern, got: &[u8]) -> Result<u64, String> {
    if got.len() < 12 {
        return Err(format!("a {}-byte datagram came back", got.len()));
    }
    let seq = u64::from_le_bytes(got[..8].try_into().unwrap());
    let len = u32::from_le_bytes(got[8..12].try_into().unwrap()) as usize;
    if len != got.len() {
        return Err(format!(
            "datagram {seq:#x} of {len} bytes came back with {} (cut or merged)",
            got.len()
        ));
    }
    if got != datagram(pattern, seq, len) {
        return Err(format!(
            "datagram {seq:#x} of {len} bytes came back altered"
        ));
    }
    Ok(seq)
}

/// A client socket on 127.0.0.1 connected to `server` (it hears only the server).
fn client(server: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(server).unwrap();
    s.set_read_timeout(Some(RETRY_AFTER)).unwrap();
    s.set_write_timeout(Some(RETRY_AFTER)).unwrap();
    s
}

/// Sends `msg` until its echo comes back (again every `RETRY_AFTER`), for at most `limit`.
/// Each datagram received must be `msg` or one of the `earlier` messages (a late echo of a
/// retry); anything else is an error. Returns how many sends it took, `None` if no echo came.
fn exchange(
    s: &UdpSocket,
    msg: &[u8],
    earlier: &HashSet<Vec<u8>>,
    limit: Duration,
) -> Result<Option<u32>, String> {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0; MAX_DATAGRAM + 1];
    let mut sends = 0;
    while Instant::now() < deadline {
        s.send(msg)
            .map_err(|e| format!("send {} bytes: {e}", msg.len()))?;
        sends += 1;
        let waited_from = Instant::now();
        while waited_from.elapsed() < RETRY_AFTER {
            match s.recv(&mut buf) {
                Ok(n) if buf[..n] == *msg => return Ok(Some(sends)),
                Ok(n) if earlier.contains(&buf[..n]) => {}
                Ok(n) => {
                    return Err(format!(
                        "sent {} bytes, got back {n} that match nothing sent",
                        msg.len()
                    ));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
    }
    Ok(None)
}

/// What a polite peer saw.
#[derive(Debug, Default)]
struct Polite {
    echoes: u64,
    sends: u64,
    elapsed: Duration,
}

/// 64-byte request/response from a fresh socket: runs at least `run_for`, until `want` echoes,
/// for at most `limit`.
fn polite(
    server: SocketAddr,
    seed: u64,
    want: u64,
    run_for: Duration,
    limit: Duration,
) -> Result<Polite, String> {
    let s = client(server);
    let pattern = Pattern::new(seed);
    let mut earlier = HashSet::new();
    let mut seen = Polite::default();
    let start = Instant::now();
    while (seen.echoes < want || start.elapsed() < run_for) && start.elapsed() < limit {
        let msg = datagram(&pattern, seen.echoes, 64);
        let left = limit.saturating_sub(start.elapsed());
        let sends = exchange(&s, &msg, &earlier, left)
            .map_err(|e| format!("after {} echoes: {e}", seen.echoes))?;
        let Some(sends) = sends else { break };
        seen.sends += u64::from(sends);
        seen.echoes += 1;
        earlier.insert(msg);
    }
    seen.elapsed = start.elapsed();
    Ok(seen)
}

/// A sender that floods the server with `len`-byte datagrams and never reads until stopped;
/// then it checks every echo queued for it.
struct Flooder {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: JoinHandle<Result<u64, String>>,
}

impl Flooder {
    fn start(server: SocketAddr, seed: u64, len: usize) -> Flooder {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let s = client(server);
            let pattern = Pattern::new(seed);
            let mut seq = 0;
            while !stop2.load(Ordering::Relaxed) {
                // A full send buffer (or a refusal) is the flood's business, not an error.
                if s.send(&datagram(&pattern, seq, len)).is_ok() {
                    seq += 1;
                    sent2.store(seq, Ordering::Relaxed);
                }
            }
            drain_and_check(&s, &pattern, seq)
        });
        Flooder { stop, sent, thread }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops it; returns how many of its echoes were queued for it, all checked.
    fn finish(self) -> Result<u64, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("flooder panicked")
    }
}

/// Reads what is queued on `s` until it has been quiet for `RETRY_AFTER`, checking each.
fn drain_and_check(s: &UdpSocket, pattern: &Pattern, sent: u64) -> Result<u64, String> {
    let mut buf = vec![0; MAX_DATAGRAM + 1];
    let mut echoes = 0;
    loop {
        match s.recv(&mut buf) {
            Ok(n) => {
                let seq = check_datagram(pattern, &buf[..n])?;
                if seq >= sent {
                    return Err(format!("the echo of datagram {seq:#x}, never sent"));
                }
                echoes += 1;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(echoes);
            }
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
}

#[test]
fn polite_peer_gets_exact_echoes_beside_two_flooders_that_never_read() {
    let _turn = serial();
    let Some(echo) = EchoServer::start_udp("hostile_udp", &[]) else {
        return;
    };
    let flooders = [
        Flooder::start(echo.addr, 0xF100D, 512),
        Flooder::start(echo.addr, 0xF100E, 8192),
    ];
    assert!(
        wait_until(Duration::from_secs(5), || flooders
            .iter()
            .all(|f| f.sent() >= 1000)),
        "the flooders sent only {:?} datagrams in 5 s",
        flooders.iter().map(Flooder::sent).collect::<Vec<_>>()
    );
    let seen = polite(echo.addr, 0x9196, MIN_ECHOES, PING_FOR, PROGRESS_LIMIT);
    let sent: Vec<u64> = flooders.iter().map(Flooder::sent).collect();
    let queued: Vec<_> = flooders.into_iter().map(Flooder::finish).collect();
    println!(
        "hostile_udp [{}]: polite peer {seen:?}; flooders sent {sent:?} datagrams, found \
         {queued:?} echoes queued",
        echo.backend
    );
    let seen = seen.expect("polite peer beside the flood");
    for (i, q) in queued.iter().enumerate() {
        let q = q.as_ref().unwrap_or_else(|e| panic!("flooder {i}: {e}"));
        assert!(*q > 0, "flooder {i} found none of its echoes queued");
    }
    assert!(
        seen.echoes >= MIN_ECHOES,
        "the polite peer got {} echoes in {:?} beside the flood",
        seen.echoes,
        seen.elapsed
    );
}

#[test]
fn a_flood_of_the_largest_datagrams_leaves_memory_bounded_and_descriptors_unchanged() {
    let _turn = serial();
    let Some(echo) = EchoServer::start_udp("hostile_udp", &[]) else {
        return;
    };
    // Warm up with the largest datagram: its buffer is in the baseline.
    let big = datagram(&Pattern::new(7), 0, MAX_DATAGRAM);
    let s = client(echo.addr);
    let got = exchange(&s, &big, &HashSet::new(), Duration::from_secs(5));
    assert!(matches!(got, Ok(Some(_))), "warm-up: {got:?}");
    let fds_before = echo.steady_fd_count();
    let rss_before = echo.steady_rss_kib(Duration::from_secs(3));

    let flooders: Vec<Flooder> = (0..4)
        .map(|i| Flooder::start(echo.addr, 0xB16 + i, MAX_DATAGRAM))
        .collect();
    let (mut rss_max, mut fds_seen) = (rss_before, HashSet::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        rss_max = rss_max.max(echo.rss_kib());
        fds_seen.insert(echo.fd_count());
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent: u64 = flooders.iter().map(Flooder::sent).sum();
    let queued: Vec<_> = flooders.into_iter().map(Flooder::finish).collect();
    let rss_after = echo.steady_rss_kib(Duration::from_secs(3));
    let fds_after = echo.steady_fd_count();
    println!(
        "hostile_udp [{}]: 4 flooders sent {sent} datagrams ({:.0} MiB) of {MAX_DATAGRAM} bytes; \
         server RSS {rss_before} -> max {rss_max} -> {rss_after} KiB; fds {fds_before} -> \
         {fds_seen:?} -> {fds_after}",
        echo.backend,
        mib(sent * MAX_DATAGRAM as u64)
    );
    for (i, q) in queued.iter().enumerate() {
        assert!(q.is_ok(), "flooder {i}: {q:?}");
    }
    assert!(
        rss_max <= rss_before + RSS_BOUND_KIB && rss_after <= rss_before + RSS_BOUND_KIB,
        "server RSS {rss_before} -> max {rss_max} -> {rss_after} KiB under the flood"
    );
    assert_eq!(fds_after, fds_before, "server descriptors after the flood");
    assert_eq!(
        fds_seen,
        HashSet::from([fds_before]),
        "server descriptors during the flood"
    );
    let after = polite(echo.addr, 8, 20, Duration::ZERO, Duration::from_secs(5));
    assert!(
        after.as_ref().is_ok_and(|p| p.echoes == 20),
        "after the flood: {after:?}"
    );
}

/// Sizes around the edges: empty, tiny, one loopback MTU and more, the largest.
const SIZES: [usize; 18] = [
    0,
    1,
    11,
    12,
    13,
    64,
    511,
    1472,
    1473,
    4096,
    9000,
    16_383,
    32_768,
    65_000,
    65_505,
    65_506,
    MAX_DATAGRAM,
    MAX_DATAGRAM,
];

#[test]
fn datagrams_of_every_size_come_back_whole_never_cut_or_merged() {
    let _turn = serial();
    let Some(echo) = EchoServer::start_udp("hostile_udp", &[]) else {
        return;
    };
    let s = client(echo.addr);
    let pattern = Pattern::new(0x512E);
    let mut earlier = HashSet::new();
    let (mut lost, mut resent) = (Vec::new(), 0);
    for round in 0..3u64 {
        for (i, &len) in SIZES.iter().enumerate() {
            let offset = ((round << 8) + i as u64) << 17;
            let msg = pattern.bytes(offset, len);
            match exchange(&s, &msg, &earlier, Duration::from_secs(2)) {
                Ok(Some(sends)) => resent += sends - 1,
                Ok(None) => lost.push(len),
                Err(e) => panic!("a {len}-byte datagram (round {round}): {e}"),
            }
            earlier.insert(msg);
        }
    }
    println!(
        "hostile_udp [{}]: {} sizes x 3 rounds; {resent} resent; never echoed: {lost:?}",
        echo.backend,
        SIZES.len()
    );
    // Nothing loads the loopback here: a datagram no retry brought back is a loss to explain.
    assert!(
        lost.is_empty(),
        "no echo in 2 s for datagrams of {lost:?} bytes"
    );
}

/// Senders that each send one datagram and close at once, so its echo finds a closed port.
fn closed_senders_burst(server: SocketAddr, seed: u64) {
    let pattern = Pattern::new(seed);
    for i in 0..CLOSED_SENDERS {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let _ = s.send_to(&datagram(&pattern, i as u64, 64), server);
    }
}

/// The kernel's count of ICMP destination unreachable messages sent (/proc/net/snmp).
fn icmp_unreachables_sent() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").expect("read /proc/net/snmp");
    let mut icmp = snmp.lines().filter(|l| l.starts_with("Icmp: "));
    let (names, values) = (icmp.next().unwrap(), icmp.next().unwrap());
    let at = names
        .split_whitespace()
        .position(|n| n == "OutDestUnreachs");
    let value = at.and_then(|i| values.split_whitespace().nth(i)?.parse().ok());
    value.expect("Icmp OutDestUnreachs in /proc/net/snmp")
}

#[test]
fn echoes_to_closed_ports_do_not_stop_the_server() {
    let _turn = serial();
    let Some(mut echo) = EchoServer::start_udp("hostile_udp", &[]) else {
        return;
    };
    let fds_before = echo.steady_fd_count();
    let icmp_before = icmp_unreachables_sent();
    let mut rounds = Vec::new();
    for burst in 0..BURSTS as u64 {
        closed_senders_burst(echo.addr, 0xDEAD + burst);
        // The polite peer's socket may get the port of a sender just closed: the echoes to
        // the burst go out first, or that socket receives one meant for the closed sender.
        std::thread::sleep(Duration::from_millis(300));
        let seen = polite(
            echo.addr,
            0x1C + burst,
            20,
            Duration::ZERO,
            Duration::from_secs(5),
        );
        let seen = seen.unwrap_or_else(|e| panic!("the peer after burst {burst}: {e}"));
        assert_eq!(seen.echoes, 20, "the peer after burst {burst}: {seen:?}");
        rounds.push(seen.sends);
    }
    let icmp = icmp_unreachables_sent() - icmp_before;
    let errors = echo.stderr().lines().count();
    println!(
        "hostile_udp [{}]: {BURSTS} bursts of {CLOSED_SENDERS} closed senders drew {icmp} ICMP \
         unreachables; the server reported {errors} errors; sends per 20 echoes after each: \
         {rounds:?}",
        echo.backend
    );
    assert!(
        icmp > 0,
        "no echo found a closed port: the bursts tested nothing"
    );
    assert!(echo.alive(), "the server exited: {}", echo.stderr());
    assert_eq!(echo.steady_fd_count(), fds_before, "server descriptors");
}
