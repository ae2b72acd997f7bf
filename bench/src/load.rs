//! Single-threaded mio ping-pong load generator.
//!
//! Each connection sends one S-byte message, waits for the complete echo,
//! verifies every byte against the expected pattern, then sends the next.
//! Patterns differ per connection (seeded from a global connection id) and
//! per message (rotating offset into the pattern), so misrouted, stale,
//! duplicated or corrupted bytes are detected.
//!
//! A `LoadGen` can hold connections to several servers ("targets") at once
//! and drives load to exactly one of them per measured window. The connections are TCP or
//! Unix-domain streams (the same code: [`StreamSock`]); UDP has its own generator
//! ([`crate::udp_load::UdpLoad`]) behind the same [`Load`] trait.

use crate::hist::Hist;
use crate::pace::{PaceTimer, TIMER};
use crate::server::{Endpoint, Transport};
use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token};
use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

pub(crate) const PATTERN_SLACK: usize = 256;

/// A ping-pong load generator with several targets, one driven per window.
pub trait Load {
    /// Opens `n` connections (or sockets) to `at` as a new target; returns its index.
    fn add_target(&mut self, name: &str, at: &Endpoint, n: usize) -> io::Result<usize>;
    /// Drives load to target `t` only, for `dur`; then stops starting new messages and waits
    /// for all in-flight ones to complete (at most `drain_timeout` without progress).
    /// Latencies (ns) go into `hist`.
    fn run_window(&mut self, t: usize, dur: Duration, hist: &mut Hist, drain_timeout: Duration) -> io::Result<Window>;
    fn drop_target(&mut self, t: usize);
    fn target_name(&self, t: usize) -> &str;
}

/// The load generator for `transport`, sending `size`-byte messages.
/// With `rate`, each target is offered that many messages/s (paced) instead of a closed loop.
pub fn new_load(transport: Transport, size: usize, rate: Option<u32>) -> io::Result<Box<dyn Load>> {
    Ok(match (transport, rate) {
        (Transport::Udp, Some(_)) => return Err(io::Error::new(ErrorKind::Unsupported, "--rate: the UDP load is not paced")),
        (Transport::Udp, None) => Box::new(crate::udp_load::UdpLoad::new(size)?),
        (Transport::Tcp | Transport::Unix, _) => Box::new(LoadGen::new(size, rate)?),
    })
}

/// A connected stream socket of the load generator: TCP or Unix-domain.
pub(crate) enum StreamSock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl StreamSock {
    /// Connects (blocking), then makes the socket non-blocking (TCP: with TCP_NODELAY).
    fn connect(at: &Endpoint) -> io::Result<StreamSock> {
        match at {
            Endpoint::Tcp(addr) => {
                let s = std::net::TcpStream::connect_timeout(addr, Duration::from_secs(5))?;
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                Ok(StreamSock::Tcp(TcpStream::from_std(s)))
            }
            Endpoint::Unix(path) => {
                let s = std::os::unix::net::UnixStream::connect(path)?;
                s.set_nonblocking(true)?;
                Ok(StreamSock::Unix(UnixStream::from_std(s)))
            }
            Endpoint::Udp(_) => Err(io::Error::new(ErrorKind::InvalidInput, "a stream load generator cannot drive a UDP server")),
        }
    }
}

impl Read for StreamSock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            StreamSock::Tcp(s) => s.read(buf),
            StreamSock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for StreamSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StreamSock::Tcp(s) => s.write(buf),
            StreamSock::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for StreamSock {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            StreamSock::Tcp(s) => s.register(r, t, i),
            StreamSock::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            StreamSock::Tcp(s) => s.reregister(r, t, i),
            StreamSock::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            StreamSock::Tcp(s) => s.deregister(r),
            StreamSock::Unix(s) => s.deregister(r),
        }
    }
}

struct Conn {
    sock: StreamSock,
    /// size + PATTERN_SLACK pseudo-random bytes, unique to this connection.
    pattern: Box<[u8]>,
    seq: u64,
    sent: usize,
    recvd: usize,
    busy: bool,
    t0: Instant,
}

pub struct Target {
    pub name: String,
    conns: Vec<Conn>,
}

/// Result of one measured window.
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    /// Messages completed before the window deadline.
    pub in_window: u64,
    /// All messages started in the window (all are complete on return, after draining).
    pub total: u64,
    /// Nominal window duration (start to deadline).
    pub dur: Duration,
    /// Time from deadline until the last in-flight message completed.
    pub drain: Duration,
    /// UDP: datagrams (or their echoes) lost, i.e. sent again after the retry timeout.
    pub lost: u64,
}

pub struct LoadGen {
    poll: Poll,
    events: Events,
    pub targets: Vec<Target>,
    size: usize,
    rbuf: Vec<u8>,
    next_conn_id: u64,
    /// Paced: messages/s offered to each target, and the timer that wakes the poll when the
    /// next is due (latency from each message's scheduled start); None: closed loop.
    rate: Option<u32>,
    timer: Option<PaceTimer>,
}

pub(crate) fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl LoadGen {
    pub fn new(size: usize, rate: Option<u32>) -> io::Result<Self> {
        assert!(size > 0);
        let poll = Poll::new()?;
        let timer = PaceTimer::for_rate(&poll, rate)?;
        Ok(LoadGen {
            poll,
            events: Events::with_capacity(1024),
            targets: Vec::new(),
            size,
            rbuf: vec![0; size],
            next_conn_id: 1,
            rate,
            timer,
        })
    }
}

/// `len` pseudo-random bytes, unique to the connection id `id`.
pub(crate) fn pattern(id: u64, len: usize) -> Box<[u8]> {
    let mut seed = id.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut pattern = vec![0u8; len];
    for chunk in pattern.chunks_mut(8) {
        let r = splitmix(&mut seed).to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    pattern.into()
}

impl Load for LoadGen {
    /// Opens `n` connections to `at` (blocking connects, then non-blocking
    /// + TCP_NODELAY for TCP) and adds them as a new target; returns its index.
    fn add_target(&mut self, name: &str, at: &Endpoint, n: usize) -> io::Result<usize> {
        let t = self.targets.len();
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let mut sock = StreamSock::connect(at)?;
            self.poll.registry().register(&mut sock, token(t, i), Interest::READABLE | Interest::WRITABLE)?;
            let pattern = pattern(self.next_conn_id, self.size + PATTERN_SLACK);
            self.next_conn_id += 1;
            conns.push(Conn { sock, pattern, seq: 0, sent: 0, recvd: 0, busy: false, t0: Instant::now() });
        }
        self.targets.push(Target { name: name.to_string(), conns });
        Ok(t)
    }

    fn target_name(&self, t: usize) -> &str {
        &self.targets[t].name
    }

    fn run_window(&mut self, t: usize, dur: Duration, hist: &mut Hist, drain_timeout: Duration) -> io::Result<Window> {
        let size = self.size;
        let start = Instant::now();
        let deadline = start + dur;
        let mut w = Window { dur, ..Default::default() };
        let nconns = self.targets[t].conns.len();
        // Paced: each connection sends every `period`, the first ones spread evenly; `due` is
        // when an idle connection's next message is.
        let period = self.rate.map(|r| Duration::from_secs_f64(nconns as f64 / r as f64));
        let mut due: Vec<Option<Instant>> = vec![None; nconns];
        for (ci, c) in self.targets[t].conns.iter_mut().enumerate() {
            match period {
                None => start_msg(c, start, size)?,
                Some(p) => due[ci] = Some(start + p.mul_f64(ci as f64 / nconns as f64)),
            }
        }
        let mut outstanding = nconns;
        let mut last_progress = Instant::now();
        while outstanding > 0 {
            if period.is_some() {
                let next_due = start_due(&mut self.targets[t].conns, &mut due, Instant::now(), size)?;
                if let (Some(at), Some(timer)) = (next_due, &self.timer) {
                    timer.fire_at(at)?;
                }
            }
            let now = Instant::now();
            let timeout = if now < deadline {
                deadline - now
            } else {
                let waited = now - last_progress;
                if waited >= drain_timeout {
                    return Err(io::Error::new(
                        ErrorKind::TimedOut,
                        format!(
                            "{}: {} of {} messages still in flight {:?} after the window ended",
                            self.targets[t].name, outstanding, nconns, waited
                        ),
                    ));
                }
                drain_timeout - waited
            };
            if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in self.events.iter() {
                if ev.token() == TIMER {
                    self.timer.as_ref().expect("paced").clear();
                    continue;
                }
                let (et, ci) = untoken(ev.token());
                if et != t {
                    continue; // stray edge on an inactive target (e.g. initial writable)
                }
                let tg = &mut self.targets[t];
                let name = &tg.name;
                let c = &mut tg.conns[ci];
                if !c.busy {
                    if ev.is_readable() && c.sock.read(&mut self.rbuf[..1]).map(|n| n > 0).unwrap_or(false) {
                        return Err(io::Error::new(ErrorKind::InvalidData, format!("{name}: conn {ci}: unexpected data while idle")));
                    }
                    continue;
                }
                if c.sent < size {
                    write_some(c, size)?;
                }
                if read_some(c, size, &mut self.rbuf).map_err(|e| io::Error::new(e.kind(), format!("{name}: conn {ci}: {e}")))? {
                    let now = Instant::now();
                    hist.record((now - c.t0).as_nanos() as u64);
                    w.total += 1;
                    c.busy = false;
                    last_progress = now;
                    if now < deadline {
                        w.in_window += 1;
                        match period {
                            None => start_msg(c, now, size)?,
                            // Due one period after this one was (at once if that is past).
                            Some(p) if c.t0 + p < deadline => due[ci] = Some(c.t0 + p),
                            Some(_) => outstanding -= 1,
                        }
                    } else {
                        outstanding -= 1;
                    }
                }
            }
        }
        w.drain = Instant::now().saturating_duration_since(deadline);
        Ok(w)
    }

    fn drop_target(&mut self, t: usize) {
        for c in self.targets[t].conns.iter_mut() {
            let _ = self.poll.registry().deregister(&mut c.sock);
        }
        self.targets[t].conns.clear();
    }
}

pub(crate) fn token(t: usize, i: usize) -> Token {
    Token((t << 32) | i)
}

pub(crate) fn untoken(tok: Token) -> (usize, usize) {
    (tok.0 >> 32, tok.0 & 0xFFFF_FFFF)
}

/// Paced: starts the messages due by `now`, each timed from when it was due; returns when the
/// next one is due.
fn start_due(conns: &mut [Conn], due: &mut [Option<Instant>], now: Instant, size: usize) -> io::Result<Option<Instant>> {
    let mut next: Option<Instant> = None;
    for (c, slot) in conns.iter_mut().zip(due.iter_mut()) {
        match *slot {
            Some(at) if at <= now => {
                *slot = None;
                start_msg(c, at, size)?;
            }
            Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
            None => {}
        }
    }
    Ok(next)
}

fn start_msg(c: &mut Conn, now: Instant, size: usize) -> io::Result<()> {
    c.seq += 1;
    c.sent = 0;
    c.recvd = 0;
    c.busy = true;
    c.t0 = now;
    write_some(c, size)
}

#[inline]
fn msg(c: &Conn, size: usize) -> &[u8] {
    let off = (c.seq as usize * 7) % PATTERN_SLACK;
    &c.pattern[off..off + size]
}

/// Writes until the message is fully sent or the socket would block.
fn write_some(c: &mut Conn, size: usize) -> io::Result<()> {
    while c.sent < size {
        let off = (c.seq as usize * 7) % PATTERN_SLACK;
        match c.sock.write(&c.pattern[off + c.sent..off + size]) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "write returned 0")),
            Ok(n) => c.sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the whole echo arrived (returns true) or the socket would block.
fn read_some(c: &mut Conn, size: usize, rbuf: &mut [u8]) -> io::Result<bool> {
    while c.recvd < size {
        // Never read past the current message: extra bytes would be a protocol error
        // caught as a mismatch on the next message.
        let want = size - c.recvd;
        match c.sock.read(&mut rbuf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("server closed the connection ({} of {} bytes echoed)", c.recvd, size),
                ))
            }
            Ok(n) => {
                let exp = &msg(c, size)[c.recvd..c.recvd + n];
                if rbuf[..n] != *exp {
                    let i = rbuf[..n].iter().zip(exp).position(|(a, b)| a != b).unwrap_or(0);
                    return Err(io::Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "echo mismatch at byte {} of message {}: got {:#04x}, expected {:#04x}",
                            c.recvd + i,
                            c.seq,
                            rbuf[i],
                            exp[i]
                        ),
                    ));
                }
                c.recvd += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
