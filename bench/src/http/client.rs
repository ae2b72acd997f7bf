//! The `--http` load generator: single-threaded mio HTTP/1.1 client, the HTTP counterpart of
//! [`crate::load::LoadGen`].
//!
//! Each connection sends one request, waits for the whole response, checks it (status 200, a
//! `Content-Length` body equal to the expected one: "Hello, world!\n", or the very bytes it
//! posted, which differ per connection and per request) and sends the next. In
//! [`Kind::Close`] mode every request is on a new connection (non-blocking connect, request
//! with `Connection: close`, the response, then the server's EOF; the latency counts from
//! the connect). Several servers ("targets") can be connected at once; a window drives load
//! to exactly one of them.

use super::handler::HELLO;
use crate::hist::Hist;
use crate::pace::{PaceTimer, TIMER};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use crate::load::Window;

/// What each request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `GET /hello` on a kept-alive connection.
    Get,
    /// `POST /echo` with a body of this many bytes, on a kept-alive connection.
    Post(usize),
    /// `GET /hello` with `Connection: close` on a new connection per request.
    Close,
}

const PATTERN_SLACK: usize = 256;

fn err(kind: ErrorKind, msg: String) -> io::Error {
    io::Error::new(kind, msg)
}

struct Conn {
    /// None between requests in Close mode.
    sock: Option<TcpStream>,
    /// Post: body size + PATTERN_SLACK pseudo-random bytes, unique to this connection.
    pattern: Box<[u8]>,
    seq: u64,
    /// The request being sent, and how much of it went out.
    out: Vec<u8>,
    sent: usize,
    /// Response bytes received so far; head length and content length once the head parsed.
    resp: Vec<u8>,
    head: Option<(usize, usize)>,
    /// Close mode: the whole response arrived, waiting for the server's EOF.
    awaiting_eof: bool,
    busy: bool,
    t0: Instant,
}

pub struct Target {
    pub name: String,
    addr: SocketAddr,
    conns: Vec<Conn>,
}

pub struct HttpLoad {
    poll: Poll,
    events: Events,
    pub targets: Vec<Target>,
    kind: Kind,
    rbuf: Vec<u8>,
    next_conn_id: u64,
    /// Paced: each connection starts a request every `period` (the target's rate spread over
    /// its connections), latency counted from the scheduled start; None: closed loop.
    period: Option<Duration>,
    /// Paced: wakes the poll when the next request is due (registered as `TIMER`).
    timer: Option<PaceTimer>,
}

fn token(t: usize, i: usize) -> Token {
    Token((t << 32) | i)
}

fn untoken(tok: Token) -> (usize, usize) {
    (tok.0 >> 32, tok.0 & 0xFFFF_FFFF)
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl HttpLoad {
    /// A closed-loop load (each connection sends its next request as soon as the response is
    /// in) or, with `rate` (requests/s per target), a paced one.
    pub fn new(kind: Kind, rate: Option<u32>, conns: usize) -> io::Result<Self> {
        let poll = Poll::new()?;
        let timer = PaceTimer::for_rate(&poll, rate)?;
        Ok(HttpLoad {
            poll,
            events: Events::with_capacity(1024),
            targets: Vec::new(),
            kind,
            rbuf: vec![0; 64 * 1024],
            next_conn_id: 1,
            period: rate.map(|r| Duration::from_secs_f64(conns as f64 / r as f64)),
            timer,
        })
    }

    /// Adds a target of `n` connections to `addr` (kept-alive ones are opened now, blocking
    /// connects then non-blocking + TCP_NODELAY); returns its index.
    pub fn add_target(&mut self, name: &str, addr: SocketAddr, n: usize) -> io::Result<usize> {
        let t = self.targets.len();
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let sock = if self.kind == Kind::Close {
                None
            } else {
                let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                let mut sock = TcpStream::from_std(s);
                self.poll.registry().register(&mut sock, token(t, i), Interest::READABLE | Interest::WRITABLE)?;
                Some(sock)
            };
            let mut seed = self.next_conn_id.wrapping_mul(0x2545_F491_4F6C_DD1D);
            self.next_conn_id += 1;
            let size = if let Kind::Post(s) = self.kind { s + PATTERN_SLACK } else { 0 };
            let mut pattern = vec![0u8; size];
            for chunk in pattern.chunks_mut(8) {
                chunk.copy_from_slice(&splitmix(&mut seed).to_le_bytes()[..chunk.len()]);
            }
            conns.push(Conn {
                sock,
                pattern: pattern.into(),
                seq: 0,
                out: Vec::new(),
                sent: 0,
                resp: Vec::new(),
                head: None,
                awaiting_eof: false,
                busy: false,
                t0: Instant::now(),
            });
        }
        self.targets.push(Target { name: name.to_string(), addr, conns });
        Ok(t)
    }

    pub fn drop_target(&mut self, t: usize) {
        for c in self.targets[t].conns.iter_mut() {
            if let Some(mut s) = c.sock.take() {
                let _ = self.poll.registry().deregister(&mut s);
            }
        }
        self.targets[t].conns.clear();
    }

    /// Drives load to target `t` only, for `dur`; then starts no new request and waits for the
    /// ones in flight (at most `drain_timeout` without progress). Latencies (ns) go to `hist`.
    pub fn run_window(&mut self, t: usize, dur: Duration, hist: &mut Hist, drain_timeout: Duration) -> io::Result<Window> {
        let start = Instant::now();
        let deadline = start + dur;
        let mut w = Window { dur, ..Default::default() };
        let nconns = self.targets[t].conns.len();
        // Paced: when each idle connection's next request is due (evenly spread at first).
        let mut due: Vec<Option<Instant>> = vec![None; nconns];
        for (ci, slot) in due.iter_mut().enumerate() {
            match self.period {
                None => self.start(t, ci, start)?,
                Some(p) => *slot = Some(start + p.mul_f64(ci as f64 / nconns as f64)),
            }
        }
        let mut outstanding = nconns;
        let mut last_progress = start;
        while outstanding > 0 {
            let mut now = Instant::now();
            let next_due = self.start_due(t, &mut due, now)?;
            if next_due.is_some() {
                now = Instant::now();
            }
            if let (Some(at), Some(timer)) = (next_due, &self.timer) {
                timer.fire_at(at)?;
            }
            let timeout = if now < deadline {
                deadline - now
            } else {
                let waited = now - last_progress;
                if waited >= drain_timeout {
                    let name = &self.targets[t].name;
                    let msg = format!("{name}: {outstanding} of {nconns} requests still in flight {waited:?} after the window ended");
                    return Err(err(ErrorKind::TimedOut, msg));
                }
                drain_timeout - waited
            };
            match self.poll.poll(&mut self.events, Some(timeout)) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                r => r?,
            }
            if let Some(timer) = self.events.iter().any(|e| e.token() == TIMER).then_some(()).and(self.timer.as_ref()) {
                timer.clear();
            }
            let ready: Vec<usize> = self.events.iter().map(|e| untoken(e.token())).filter(|&(et, _)| et == t).map(|(_, ci)| ci).collect();
            for ci in ready {
                match self.drive(t, ci) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Err(err(e.kind(), format!("{}: conn {ci}: {e}", self.targets[t].name))),
                }
                let now = Instant::now();
                hist.record((now - self.targets[t].conns[ci].t0).as_nanos() as u64);
                w.total += 1;
                last_progress = now;
                if now < deadline {
                    w.in_window += 1;
                    match self.period {
                        None => self.start(t, ci, now)?,
                        // Due one period after this one was due (at once if that is past).
                        Some(p) if self.targets[t].conns[ci].t0 + p < deadline => due[ci] = Some(self.targets[t].conns[ci].t0 + p),
                        Some(_) => outstanding -= 1,
                    }
                } else {
                    outstanding -= 1;
                }
            }
        }
        w.drain = Instant::now().saturating_duration_since(deadline);
        Ok(w)
    }

    /// Paced: starts the requests that are due by `now` (each timed from when it was due, so a
    /// late start counts in its latency); returns when the next one is due.
    fn start_due(&mut self, t: usize, due: &mut [Option<Instant>], now: Instant) -> io::Result<Option<Instant>> {
        let mut next: Option<Instant> = None;
        for (ci, slot) in due.iter_mut().enumerate() {
            match *slot {
                Some(at) if at <= now => {
                    *slot = None;
                    self.start(t, ci, at)?;
                }
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
        Ok(next)
    }

    /// Starts the next request on connection `ci` of target `t` (a new connection in Close mode).
    fn start(&mut self, t: usize, ci: usize, now: Instant) -> io::Result<()> {
        let kind = self.kind;
        let addr = self.targets[t].addr;
        let c = &mut self.targets[t].conns[ci];
        c.seq += 1;
        c.out.clear();
        match kind {
            Kind::Get => c.out.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n"),
            Kind::Close => c.out.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"),
            Kind::Post(size) => {
                write!(c.out, "POST /echo HTTP/1.1\r\nHost: bench\r\nContent-Length: {size}\r\n\r\n")?;
                let off = (c.seq as usize * 7) % PATTERN_SLACK;
                c.out.extend_from_slice(&c.pattern[off..off + size]);
            }
        }
        c.sent = 0;
        c.resp.clear();
        c.head = None;
        c.awaiting_eof = false;
        c.busy = true;
        c.t0 = now;
        if kind == Kind::Close {
            let mut sock = TcpStream::connect(addr)?;
            sock.set_nodelay(true)?;
            self.poll.registry().register(&mut sock, token(t, ci), Interest::READABLE | Interest::WRITABLE)?;
            c.sock = Some(sock);
            return Ok(()); // written once the connect completes (writable)
        }
        write_some(c)
    }

    /// Makes progress on connection `ci` of target `t`; true when its request is complete.
    fn drive(&mut self, t: usize, ci: usize) -> io::Result<bool> {
        let kind = self.kind;
        let c = &mut self.targets[t].conns[ci];
        if !c.busy {
            if kind != Kind::Close {
                let sock = c.sock.as_mut().expect("kept-alive connection");
                if sock.read(&mut self.rbuf[..1]).map(|n| n > 0).unwrap_or(false) {
                    return Err(err(ErrorKind::InvalidData, "unexpected data while idle".into()));
                }
            }
            return Ok(false);
        }
        if c.sent < c.out.len() {
            write_some(c)?;
        }
        if !read_some(c, kind, &mut self.rbuf)? {
            return Ok(false);
        }
        c.busy = false;
        if kind == Kind::Close {
            if let Some(mut s) = c.sock.take() {
                let _ = self.poll.registry().deregister(&mut s);
            }
        }
        Ok(true)
    }
}

/// Writes until the request is out or the socket would block (or is still connecting).
fn write_some(c: &mut Conn) -> io::Result<()> {
    let sock = c.sock.as_mut().expect("connected");
    while c.sent < c.out.len() {
        match sock.write(&c.out[c.sent..]) {
            Ok(0) => return Err(err(ErrorKind::WriteZero, "write returned 0".into())),
            Ok(n) => c.sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what is there; true once the whole response (and in Close mode the EOF) arrived and
/// checked out.
fn read_some(c: &mut Conn, kind: Kind, rbuf: &mut [u8]) -> io::Result<bool> {
    loop {
        let n = match c.sock.as_mut().expect("connected").read(rbuf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected) => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if c.awaiting_eof {
                return Ok(true);
            }
            let msg = format!("server closed the connection ({} bytes of the response received)", c.resp.len());
            return Err(err(ErrorKind::UnexpectedEof, msg));
        }
        if c.awaiting_eof {
            return Err(err(ErrorKind::InvalidData, "bytes after the response on a Connection: close".into()));
        }
        c.resp.extend_from_slice(&rbuf[..n]);
        if !response_complete(c, kind)? {
            continue;
        }
        if kind != Kind::Close {
            return Ok(true);
        }
        c.awaiting_eof = true;
    }
}

/// Parses the head once it is all there; true when the whole body is in and matches.
fn response_complete(c: &mut Conn, kind: Kind) -> io::Result<bool> {
    if c.head.is_none() {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Response::new(&mut headers);
        let head_len = match r.parse(&c.resp) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(false),
            Err(e) => return Err(err(ErrorKind::InvalidData, format!("bad response head: {e}"))),
        };
        if r.code != Some(200) {
            return Err(err(ErrorKind::InvalidData, format!("status {:?}, expected 200", r.code)));
        }
        let cl = r.headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-length"));
        let cl = cl.and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok());
        let Some(cl) = cl else { return Err(err(ErrorKind::InvalidData, "response without a Content-Length".into())) };
        c.head = Some((head_len, cl));
    }
    let (head_len, cl) = c.head.expect("parsed");
    let have = c.resp.len() - head_len;
    if have < cl {
        return Ok(false);
    }
    if have > cl {
        return Err(err(ErrorKind::InvalidData, format!("{} bytes after the response body", have - cl)));
    }
    let body = &c.resp[head_len..];
    let expected: &[u8] = match kind {
        Kind::Get | Kind::Close => HELLO,
        Kind::Post(size) => {
            let off = (c.seq as usize * 7) % PATTERN_SLACK;
            &c.pattern[off..off + size]
        }
    };
    if body != expected {
        let i = body.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(body.len().min(expected.len()));
        return Err(err(ErrorKind::InvalidData, format!("body differs from the expected at byte {i} of request {}", c.seq)));
    }
    Ok(true)
}
