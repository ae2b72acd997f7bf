//! Accept burst: `n` clients connect at once (non-blocking connects issued together from a few
//! threads, released by a barrier), each sends 64 bytes and waits for the echo. A SYN (or the
//! final ACK) dropped at a full accept backlog is retried by the client's kernel after 1 s, so
//! a short backlog shows as round trips over a second.

use crate::hist::Hist;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Clients still without their echo after this are counted as failed.
const DEADLINE: Duration = Duration::from_secs(20);
const MSG: usize = 64;

#[derive(Default)]
pub struct Burst {
    /// Connect start to complete echo (ns), for each client that got it.
    pub hist: Hist,
    pub over_1s: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    /// Barrier release to the last echo.
    pub wall: Duration,
    /// The server's listen backlog (from `ss`), if known.
    pub backlog: Option<u32>,
}

impl Burst {
    fn merge(&mut self, o: Burst) {
        self.hist.merge(&o.hist);
        self.over_1s += o.over_1s;
        self.failed += o.failed;
        self.first_error = self.first_error.take().or(o.first_error);
        self.wall = self.wall.max(o.wall);
    }
}

struct Client {
    sock: TcpStream,
    t0: Instant,
    /// Bytes of the echo received; `None` until connected and the message was sent.
    got: Option<usize>,
    done: bool,
}

/// The accept backlog of the socket listening on `addr`'s port, from `ss` (its Send-Q column);
/// None if `ss` is missing or shows no listener.
pub fn backlog(addr: SocketAddr) -> Option<u32> {
    let out = std::process::Command::new("ss").args(["-Hltn", &format!("sport = :{}", addr.port())]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next()?.split_whitespace().nth(2)?.parse().ok()
}

/// Runs the burst with `threads` client threads sharing `n` connections.
pub fn run(addr: SocketAddr, n: usize, threads: usize) -> Burst {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let k = n / threads + usize::from(t < n % threads);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || one_thread(addr, k, t, &barrier))
        })
        .collect();
    let mut total = Burst { backlog: backlog(addr), ..Burst::default() };
    let mut socks = Vec::new();
    for h in handles {
        match h.join() {
            Ok((b, s)) => {
                total.merge(b);
                socks.push(s);
            }
            Err(_) => total.first_error = Some("client thread panicked".into()),
        }
    }
    total
}

/// One thread's clients; its sockets are returned (still open) so that no connection closes
/// before every thread is done.
fn one_thread(addr: SocketAddr, k: usize, t: usize, barrier: &Barrier) -> (Burst, Vec<Client>) {
    let mut b = Burst::default();
    let mut clients: Vec<Client> = Vec::with_capacity(k);
    let (mut poll, mut events) = match Poll::new() {
        Ok(p) => (p, Events::with_capacity(1024)),
        Err(e) => {
            b.failed = k as u64;
            b.first_error = Some(format!("poll: {e}"));
            return (b, clients);
        }
    };
    barrier.wait();
    let start = Instant::now();
    for i in 0..k {
        let t0 = Instant::now();
        let r = TcpStream::connect(addr)
            .and_then(|mut s| poll.registry().register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE).map(|_| s));
        match r {
            Ok(sock) => clients.push(Client { sock, t0, got: None, done: false }),
            Err(e) => fail(&mut b, format!("connect: {e}")),
        }
    }
    let msg = message(t);
    let mut left = clients.len();
    while left > 0 && start.elapsed() < DEADLINE {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(100))) {
            if e.kind() != ErrorKind::Interrupted {
                fail(&mut b, format!("poll: {e}"));
                break;
            }
        }
        for ev in events.iter() {
            let c = &mut clients[ev.token().0];
            if c.done {
                continue;
            }
            match step(c, &msg) {
                Ok(false) => {}
                Ok(true) => {
                    let rtt = c.t0.elapsed();
                    b.hist.record(rtt.as_nanos() as u64);
                    b.over_1s += u64::from(rtt > Duration::from_secs(1));
                    b.wall = b.wall.max(start.elapsed());
                    c.done = true;
                    left -= 1;
                }
                Err(e) => {
                    fail(&mut b, e.to_string());
                    c.done = true;
                    left -= 1;
                }
            }
        }
    }
    if left > 0 {
        b.failed += left as u64;
        b.first_error.get_or_insert_with(|| format!("{left} clients without their echo after {} s", DEADLINE.as_secs()));
    }
    (b, clients)
}

fn fail(b: &mut Burst, e: String) {
    b.failed += 1;
    b.first_error.get_or_insert(e);
}

/// Thread `t`'s 64-byte message (differs per thread, so misrouted bytes are caught).
fn message(t: usize) -> [u8; MSG] {
    std::array::from_fn(|i| (t * 31 + i) as u8)
}

/// Advances one client: sends the message once connected, then reads the echo.
/// Returns true when the whole echo arrived.
fn step(c: &mut Client, msg: &[u8; MSG]) -> io::Result<bool> {
    if c.got.is_none() {
        if let Some(e) = c.sock.take_error()? {
            return Err(e);
        }
        match c.sock.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(false),
            Err(e) => return Err(e),
        }
        // 64 bytes into an empty send buffer: written whole or not at all.
        match c.sock.write(msg) {
            Ok(MSG) => c.got = Some(0),
            Ok(k) => return Err(io::Error::new(ErrorKind::WriteZero, format!("short write: {k} of 64 bytes"))),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    let mut buf = [0u8; MSG];
    loop {
        let got = c.got.unwrap_or(0);
        match c.sock.read(&mut buf[..MSG - got]) {
            Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "server closed before the echo")),
            Ok(k) => {
                if buf[..k] != msg[got..got + k] {
                    return Err(io::Error::new(ErrorKind::InvalidData, "echoed bytes differ"));
                }
                c.got = Some(got + k);
                if got + k == MSG {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
