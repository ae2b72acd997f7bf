//! Hostile clients: plain std threads with blocking sockets on 127.0.0.1, every byte they send
//! drawn from a per-connection pattern and every byte echoed back checked against it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Read and write timeout of every client socket: nothing in the suite waits longer for a byte.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Length of a pattern block: prime, so it lines up with no buffer size of the server's.
const BLOCK: usize = 65_521;

/// An endless byte stream unique to its seed: a random block of `BLOCK` bytes, repeated, the
/// first 8 bytes of each repetition replaced by a stamp of (seed, block number). Bytes lost,
/// repeated, reordered or taken from another connection's stream all show as a mismatch.
#[derive(Clone)]
pub struct Pattern {
    seed: u64,
    block: Arc<Vec<u8>>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Pattern {
    pub fn new(seed: u64) -> Pattern {
        let mut block = Vec::with_capacity(BLOCK + 8);
        let mut i = 0u64;
        while block.len() < BLOCK {
            block.extend_from_slice(&splitmix(seed.rotate_left(17) ^ i).to_le_bytes());
            i += 1;
        }
        block.truncate(BLOCK);
        Pattern {
            seed,
            block: Arc::new(block),
        }
    }

    /// Writes bytes `offset .. offset + buf.len()` of the stream into `buf`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut pos = 0;
        while pos < buf.len() {
            let at = offset + pos as u64;
            let index = at / BLOCK as u64;
            let within = (at % BLOCK as u64) as usize;
            let n = (BLOCK - within).min(buf.len() - pos);
            buf[pos..pos + n].copy_from_slice(&self.block[within..within + n]);
            if within < 8 {
                let stamp = splitmix(self.seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
                let stamp = stamp.to_le_bytes();
                let end = (within + n).min(8);
                buf[pos..pos + end - within].copy_from_slice(&stamp[within..end]);
            }
            pos += n;
        }
    }

    /// Bytes `offset .. offset + len` of the stream.
    pub fn bytes(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(offset, &mut v);
        v
    }
}

/// Checks a received stream against its pattern, piece by piece as it arrives.
pub struct Checker {
    pattern: Pattern,
    /// Bytes checked so far.
    pub offset: u64,
    expected: Vec<u8>,
}

impl Checker {
    pub fn new(pattern: Pattern) -> Checker {
        Checker {
            pattern,
            offset: 0,
            expected: Vec::new(),
        }
    }

    /// Checks the next bytes of the stream; on a mismatch says where.
    pub fn check(&mut self, got: &[u8]) -> Result<(), String> {
        self.expected.resize(got.len(), 0);
        self.pattern.fill(self.offset, &mut self.expected);
        if got != &self.expected[..] {
            let i = got
                .iter()
                .zip(&self.expected)
                .position(|(a, b)| a != b)
                .unwrap();
            return Err(format!(
                "byte {} of the echo is {:#04x}, expected {:#04x}",
                self.offset + i as u64,
                got[i],
                self.expected[i]
            ));
        }
        self.offset += got.len() as u64;
        Ok(())
    }
}

/// A client socket to `addr` with the suite's timeouts and no Nagle delay.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    set_timeouts(&s, IO_TIMEOUT);
    s
}

/// A client socket to the Unix stream socket at `path`, with the suite's timeouts.
pub fn connect_unix(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// A connected stream the clients below run over: TCP or Unix.
pub trait Conn: Read + Write + Send + Sized + 'static {
    fn try_clone_conn(&self) -> io::Result<Self>;
    fn shutdown_conn(&self, how: Shutdown) -> io::Result<()>;
}

impl Conn for TcpStream {
    fn try_clone_conn(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn shutdown_conn(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

impl Conn for UnixStream {
    fn try_clone_conn(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn shutdown_conn(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

pub fn set_timeouts(s: &TcpStream, t: Duration) {
    s.set_read_timeout(Some(t)).unwrap();
    s.set_write_timeout(Some(t)).unwrap();
    s.set_nodelay(true).unwrap();
}

/// Whether an error is the peer's reset (or the pipe it broke).
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// Sends bytes `*sent ..` of `pattern` until `limit` bytes in all have gone or `stop` is set,
/// `chunk` bytes per `write` (counting exactly what each call took), sleeping `pause` between
/// chunks. A write that takes nothing within the socket's timeout ends it with that error.
pub fn send_pattern(
    s: &mut impl Write,
    pattern: &Pattern,
    sent: &AtomicU64,
    limit: u64,
    chunk: usize,
    pause: Option<Duration>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut buf = vec![0; chunk];
    let mut offset = sent.load(Ordering::Relaxed);
    while offset < limit && !stop.load(Ordering::Relaxed) {
        let n = chunk.min((limit - offset) as usize);
        pattern.fill(offset, &mut buf[..n]);
        let mut done = 0;
        while done < n {
            match s.write(&buf[done..n]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(k) => {
                    done += k;
                    offset += k as u64;
                    sent.store(offset, Ordering::Relaxed);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
    }
    Ok(())
}

/// How a stream's echo ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// A clean end of stream after this many bytes, all as sent.
    Eof,
    /// The connection was reset.
    Reset(String),
    /// Any other error (a timeout, say).
    Error(String),
    /// A byte came back altered.
    Mismatch(String),
}

/// Reads the echo of `pattern` until end of stream, checking every byte; counts into `echoed`.
pub fn read_and_check(s: &mut impl Read, pattern: Pattern, echoed: &AtomicU64) -> ReadEnd {
    let mut checker = Checker::new(pattern);
    let mut buf = vec![0; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return ReadEnd::Eof,
            Ok(n) => {
                if let Err(e) = checker.check(&buf[..n]) {
                    return ReadEnd::Mismatch(e);
                }
                echoed.store(checker.offset, Ordering::Relaxed);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_reset(&e) => return ReadEnd::Reset(e.to_string()),
            Err(e) => {
                return ReadEnd::Error(format!("{e} after {} bytes of echo", checker.offset));
            }
        }
    }
}

/// What a streaming client should do.
#[derive(Clone, Copy)]
pub struct StreamPlan {
    /// Stop after this many bytes (`u64::MAX`: until told to stop).
    pub limit: u64,
    pub chunk: usize,
    pub pause: Option<Duration>,
}

impl StreamPlan {
    /// As fast as it can, until told to stop.
    pub fn flood() -> StreamPlan {
        StreamPlan {
            limit: u64::MAX,
            chunk: 256 * 1024,
            pause: None,
        }
    }
}

/// A client that sends its pattern from one thread and reads and checks the echo on another,
/// then half-closes and reads the rest of the echo to the end.
pub struct Streamer {
    pub seed: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    echoed: Arc<AtomicU64>,
    writer: JoinHandle<io::Result<()>>,
    reader: JoinHandle<ReadEnd>,
}

/// How a streaming client's transfer ended.
#[derive(Debug)]
pub struct StreamOutcome {
    pub seed: u64,
    pub sent: u64,
    pub echoed: u64,
    /// Why sending stopped early, if it did.
    pub write_error: Option<String>,
    pub write_reset: bool,
    pub read_end: ReadEnd,
}

impl StreamOutcome {
    /// Every byte sent came back, as sent, then a clean end of stream.
    pub fn whole(&self) -> bool {
        self.write_error.is_none() && self.read_end == ReadEnd::Eof && self.echoed == self.sent
    }

    /// Nothing came back altered and no clean end of stream came after missing bytes: every
    /// byte came back, or the connection was reset (acceptable where the server may cut).
    pub fn whole_or_reset(&self) -> bool {
        let write_ok = self.write_error.is_none() || self.write_reset;
        match &self.read_end {
            ReadEnd::Eof => write_ok && self.echoed == self.sent,
            ReadEnd::Reset(_) => write_ok,
            ReadEnd::Error(_) | ReadEnd::Mismatch(_) => false,
        }
    }
}

impl Streamer {
    pub fn start(addr: SocketAddr, seed: u64, plan: StreamPlan) -> Streamer {
        Streamer::over(connect(addr), seed, plan)
    }

    /// The same over a connected stream of any kind.
    pub fn over(s: impl Conn, seed: u64, plan: StreamPlan) -> Streamer {
        let mut w = s.try_clone_conn().unwrap();
        let mut r = s;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let echoed = Arc::new(AtomicU64::new(0));
        let pattern = Pattern::new(seed);
        let writer = {
            let (stop, sent, pattern) = (stop.clone(), sent.clone(), pattern.clone());
            std::thread::spawn(move || {
                let r = send_pattern(
                    &mut w, &pattern, &sent, plan.limit, plan.chunk, plan.pause, &stop,
                );
                let _ = w.shutdown_conn(Shutdown::Write);
                r
            })
        };
        let reader = {
            let echoed = echoed.clone();
            std::thread::spawn(move || read_and_check(&mut r, pattern, &echoed))
        };
        Streamer {
            seed,
            stop,
            sent,
            echoed,
            writer,
            reader,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn echoed(&self) -> u64 {
        self.echoed.load(Ordering::Relaxed)
    }

    /// Whether the sending thread is done (limit reached, or an error).
    pub fn sending_done(&self) -> bool {
        self.writer.is_finished()
    }

    /// Tells the sender to stop after the chunk in hand (then it half-closes).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for both threads (stop first unless the plan has a limit).
    pub fn finish(self) -> StreamOutcome {
        let write = self.writer.join().expect("sender panicked");
        let read_end = self.reader.join().expect("reader panicked");
        StreamOutcome {
            seed: self.seed,
            sent: self.sent.load(Ordering::Relaxed),
            echoed: self.echoed.load(Ordering::Relaxed),
            write_reset: write.as_ref().is_err_and(is_reset),
            write_error: write.err().map(|e| e.to_string()),
            read_end,
        }
    }
}

/// Waits until `cond` holds, polling every 10 ms, for at most `limit`; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One ping-pong client: `size`-byte messages of its pattern, each echo checked.
pub struct PingPong<S = TcpStream> {
    s: S,
    pattern: Pattern,
    offset: u64,
    size: usize,
    out: Vec<u8>,
    back: Vec<u8>,
}

impl PingPong {
    pub fn new(addr: SocketAddr, seed: u64, size: usize) -> PingPong {
        PingPong::over(connect(addr), seed, size)
    }
}

impl<S: Conn> PingPong<S> {
    /// A ping-pong client over a connected stream of any kind.
    pub fn over(s: S, seed: u64, size: usize) -> PingPong<S> {
        PingPong {
            s,
            pattern: Pattern::new(seed),
            offset: 0,
            size,
            out: vec![0; size],
            back: vec![0; size],
        }
    }

    /// One round trip; returns how long it took.
    pub fn round_trip(&mut self) -> Result<Duration, String> {
        self.pattern.fill(self.offset, &mut self.out);
        let start = Instant::now();
        self.s
            .write_all(&self.out)
            .map_err(|e| format!("ping write at {}: {e}", self.offset))?;
        self.s
            .read_exact(&mut self.back)
            .map_err(|e| format!("ping read at {}: {e}", self.offset))?;
        let rtt = start.elapsed();
        if self.back != self.out {
            return Err(format!("ping at byte {} came back altered", self.offset));
        }
        self.offset += self.size as u64;
        Ok(rtt)
    }

    /// `n` round trips; returns their times.
    pub fn round_trips(&mut self, n: usize) -> Result<Vec<Duration>, String> {
        (0..n).map(|_| self.round_trip()).collect()
    }

    /// Half-closes and expects a clean end of stream with nothing more.
    pub fn close(mut self) -> Result<(), String> {
        self.s
            .shutdown_conn(Shutdown::Write)
            .map_err(|e| e.to_string())?;
        let mut rest = Vec::new();
        self.s
            .read_to_end(&mut rest)
            .map_err(|e| format!("ping close: {e}"))?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes after the last pong",
                rest.len()
            ))
        }
    }
}

/// A fresh client does `n` 64-byte round trips, every echo checked, then closes cleanly.
pub fn ping_pong(addr: SocketAddr, seed: u64, n: usize) -> Result<Vec<Duration>, String> {
    let mut p = PingPong::new(addr, seed, 64);
    let times = p.round_trips(n)?;
    p.close()?;
    Ok(times)
}

/// "p50 .. p99 .. max" of a set of durations (for information).
pub fn summary(times: &[Duration]) -> String {
    if times.is_empty() {
        return "no samples".into();
    }
    let mut t = times.to_vec();
    t.sort();
    let at = |q: f64| t[((t.len() - 1) as f64 * q).round() as usize];
    format!(
        "n {}, p50 {:?}, p99 {:?}, max {:?}",
        t.len(),
        at(0.5),
        at(0.99),
        t[t.len() - 1]
    )
}

/// MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
