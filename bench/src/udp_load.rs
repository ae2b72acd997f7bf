//! Single-threaded mio UDP ping-pong load generator.
//!
//! N sockets per target, each connected to the server (so it hears only the server) with its
//! own pseudo-random pattern. Each sends one S-byte datagram, waits for its echo, verifies every
//! byte, then sends the next. A datagram carries its sequence number in its first 8 bytes and a
//! rotating window of the socket's pattern after that, so every datagram (late and duplicate
//! ones too) is checked against exactly what was sent under its number. A datagram whose echo
//! has not come back after [`RETRY`] is counted lost and sent again (same number); an echo of
//! an earlier number that arrives afterwards (the first copy was only late) is verified and
//! ignored.

use crate::hist::Hist;
use crate::load::{pattern, token, untoken, Load, Window, PATTERN_SLACK};
use crate::server::Endpoint;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll};
use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

/// How long a datagram's echo is waited for before the datagram is sent again.
pub const RETRY: Duration = Duration::from_millis(200);
/// How often the sockets are scanned for overdue echoes.
const RETRY_SCAN: Duration = Duration::from_millis(20);
/// Bytes of the sequence number at the start of every datagram.
const SEQ_BYTES: usize = 8;

struct Peer {
    sock: UdpSocket,
    /// size + PATTERN_SLACK pseudo-random bytes, unique to this socket.
    pattern: Box<[u8]>,
    seq: u64,
    busy: bool,
    /// First send of the current datagram (its latency is measured from here).
    t0: Instant,
    /// Latest send of the current datagram (the retry timeout runs from here).
    sent_at: Instant,
}

struct Target {
    name: String,
    peers: Vec<Peer>,
}

pub struct UdpLoad {
    poll: Poll,
    events: Events,
    targets: Vec<Target>,
    size: usize,
    /// Receive buffer: any datagram fits whole, so a longer echo is seen as such.
    rbuf: Vec<u8>,
    /// The datagram being sent.
    tbuf: Vec<u8>,
    next_id: u64,
}

impl UdpLoad {
    pub fn new(size: usize) -> io::Result<Self> {
        if size < SEQ_BYTES {
            return Err(io::Error::new(ErrorKind::InvalidInput, format!("UDP datagrams carry an 8-byte sequence number: size {size} < 8")));
        }
        Ok(UdpLoad {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            targets: Vec::new(),
            size,
            rbuf: vec![0; crate::MAX_DATAGRAM + 1],
            tbuf: vec![0; size],
            next_id: 1,
        })
    }
}

/// Writes datagram `seq` of a socket with pattern `pattern` into `out` (its whole length).
fn fill(out: &mut [u8], pattern: &[u8], seq: u64) {
    let off = (seq as usize * 7) % PATTERN_SLACK;
    out[..SEQ_BYTES].copy_from_slice(&seq.to_le_bytes());
    let rest = out.len() - SEQ_BYTES;
    out[SEQ_BYTES..].copy_from_slice(&pattern[off..off + rest]);
}

/// Sends the peer's current datagram. A full socket buffer drops it: the retry resends it.
fn send(p: &mut Peer, tbuf: &mut [u8], now: Instant) -> io::Result<()> {
    fill(tbuf, &p.pattern, p.seq);
    p.sent_at = now;
    match p.sock.send(tbuf) {
        Ok(n) if n == tbuf.len() => Ok(()),
        Ok(n) => Err(io::Error::new(ErrorKind::WriteZero, format!("sent {n} of {} bytes", tbuf.len()))),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads every datagram queued on `p`'s socket (edge-triggered: until WouldBlock), checking
/// each. Returns true if the current datagram's echo was among them (the peer is then idle).
fn receive(p: &mut Peer, size: usize, rbuf: &mut [u8], expect: &mut [u8]) -> io::Result<bool> {
    let mut done = false;
    loop {
        match p.sock.recv(rbuf) {
            Ok(n) => {
                if check(p, &rbuf[..n], size, expect).map_err(|e| io::Error::new(ErrorKind::InvalidData, e))? {
                    p.busy = false;
                    done = true;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(done),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Checks one received datagram against what was sent under its sequence number. Returns
/// true when it is the echo of the peer's current datagram.
fn check(p: &Peer, got: &[u8], size: usize, expect: &mut [u8]) -> Result<bool, String> {
    if got.len() != size {
        return Err(format!("echo of {} bytes, sent {size}", got.len()));
    }
    let seq = u64::from_le_bytes(got[..SEQ_BYTES].try_into().unwrap());
    if seq == 0 || seq > p.seq {
        return Err(format!("echo numbered {seq}, but the last datagram sent was {}", p.seq));
    }
    fill(expect, &p.pattern, seq);
    if let Some(i) = got.iter().zip(expect.iter()).position(|(a, b)| a != b) {
        return Err(format!("echo mismatch at byte {i} of datagram {seq}: got {:#04x}, expected {:#04x}", got[i], expect[i]));
    }
    Ok(p.busy && seq == p.seq)
}

impl Load for UdpLoad {
    /// Binds `n` sockets to 127.0.0.1:0, each connected to the server's address.
    fn add_target(&mut self, name: &str, at: &Endpoint, n: usize) -> io::Result<usize> {
        let Endpoint::Udp(addr) = at else {
            return Err(io::Error::new(ErrorKind::InvalidInput, "the UDP load generator drives UDP servers only"));
        };
        let t = self.targets.len();
        let mut peers = Vec::with_capacity(n);
        for i in 0..n {
            let mut sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
            sock.connect(*addr)?;
            self.poll.registry().register(&mut sock, token(t, i), Interest::READABLE)?;
            let pattern = pattern(self.next_id, self.size + PATTERN_SLACK);
            self.next_id += 1;
            let now = Instant::now();
            peers.push(Peer { sock, pattern, seq: 0, busy: false, t0: now, sent_at: now });
        }
        self.targets.push(Target { name: name.to_string(), peers });
        Ok(t)
    }

    fn target_name(&self, t: usize) -> &str {
        &self.targets[t].name
    }

    fn run_window(&mut self, t: usize, dur: Duration, hist: &mut Hist, drain_timeout: Duration) -> io::Result<Window> {
        let start = Instant::now();
        let deadline = start + dur;
        let mut w = Window { dur, ..Default::default() };
        let npeers = self.targets[t].peers.len();
        for p in self.targets[t].peers.iter_mut() {
            p.seq += 1;
            p.busy = true;
            p.t0 = start;
            send(p, &mut self.tbuf, start)?;
        }
        let mut outstanding = npeers;
        let mut last_progress = start;
        let mut next_scan = start + RETRY_SCAN;
        while outstanding > 0 {
            let now = Instant::now();
            if now >= next_scan {
                w.lost += self.resend_overdue(t, now)?;
                next_scan = now + RETRY_SCAN;
            }
            let until = if now < deadline {
                deadline
            } else {
                let waited = now - last_progress;
                if waited >= drain_timeout {
                    let name = &self.targets[t].name;
                    let msg = format!("{name}: {outstanding} of {npeers} datagrams unanswered {waited:?} after the window ended");
                    return Err(io::Error::new(ErrorKind::TimedOut, msg));
                }
                last_progress + drain_timeout
            };
            if let Err(e) = self.poll.poll(&mut self.events, Some(until.min(next_scan).saturating_duration_since(now))) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in self.events.iter() {
                let (et, pi) = untoken(ev.token());
                let Some(tg) = self.targets.get_mut(et) else { continue };
                let Some(p) = tg.peers.get_mut(pi) else { continue };
                let done = receive(p, self.size, &mut self.rbuf, &mut self.tbuf)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: socket {pi}: {e}", tg.name)))?;
                if et != t || !done {
                    continue;
                }
                let now = Instant::now();
                hist.record((now - p.t0).as_nanos() as u64);
                w.total += 1;
                last_progress = now;
                if now < deadline {
                    w.in_window += 1;
                    p.seq += 1;
                    p.busy = true;
                    p.t0 = now;
                    send(p, &mut self.tbuf, now)?;
                } else {
                    outstanding -= 1;
                }
            }
        }
        w.drain = Instant::now().saturating_duration_since(deadline);
        Ok(w)
    }

    fn drop_target(&mut self, t: usize) {
        for p in self.targets[t].peers.iter_mut() {
            let _ = self.poll.registry().deregister(&mut p.sock);
        }
        self.targets[t].peers.clear();
    }
}

impl UdpLoad {
    /// Sends again every datagram of target `t` whose echo is overdue; returns how many.
    fn resend_overdue(&mut self, t: usize, now: Instant) -> io::Result<u64> {
        let mut lost = 0;
        for p in self.targets[t].peers.iter_mut().filter(|p| p.busy && now - p.sent_at >= RETRY) {
            send(p, &mut self.tbuf, now)?;
            lost += 1;
        }
        Ok(lost)
    }
}
