//! Peers that never read: each sends up to `max_bytes` (non-blocking) until the server has
//! taken nothing more for `stall`, and reads nothing. An echo server then holds, per peer,
//! whatever it read but could not send back: the kernel's socket buffers (not in its RSS) plus
//! its own user-space buffers (in its RSS), which is what this measures.

use crate::procfs;
use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const CHUNK: usize = 64 * 1024;

/// Connected peers that have stopped being able to send.
pub struct Peers {
    /// Kept open (unread) until dropped.
    pub socks: Vec<TcpStream>,
    /// Bytes each peer's socket accepted.
    pub sent: Vec<u64>,
}

impl Peers {
    pub fn mean_sent(&self) -> f64 {
        self.sent.iter().sum::<u64>() as f64 / self.sent.len().max(1) as f64
    }
}

/// Opens `n` connections to `addr` and waits (up to 2 s) until the server process `pid` holds
/// an fd for each, so that its RSS read afterwards includes the connections themselves.
pub fn connect(addr: SocketAddr, n: usize, pid: i32) -> io::Result<Vec<TcpStream>> {
    let base = procfs::fd_count(pid);
    let mut socks = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_nonblocking(true)?;
        socks.push(s);
    }
    let t0 = Instant::now();
    while procfs::fd_count(pid) < base + n && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    Ok(socks)
}

/// Sends on every socket until each has sent `max_bytes` or been unable to send for `stall`.
pub fn fill(socks: Vec<TcpStream>, max_bytes: u64, stall: Duration) -> io::Result<Peers> {
    let chunk = vec![0x5au8; CHUNK];
    let n = socks.len();
    let mut sent = vec![0u64; n];
    let mut last = vec![Instant::now(); n];
    let mut done = vec![false; n];
    let mut socks = socks;
    while done.iter().any(|d| !d) {
        let mut progress = false;
        for i in 0..n {
            if done[i] {
                continue;
            }
            let want = (max_bytes - sent[i]).min(CHUNK as u64) as usize;
            match socks[i].write(&chunk[..want]) {
                Ok(k) => {
                    sent[i] += k as u64;
                    last[i] = Instant::now();
                    progress |= k > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io::Error::new(e.kind(), format!("peer {i} after {} bytes: {e}", sent[i]))),
            }
            done[i] = sent[i] >= max_bytes || last[i].elapsed() >= stall;
        }
        if !progress {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(Peers { socks, sent })
}

pub struct Growth {
    /// The peers, still open: dropped with the result, after the server is gone, so that it
    /// never sees them reset (and reports nothing on its stderr).
    pub open: Peers,
    pub peers: usize,
    pub mean_sent: f64,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl Growth {
    /// (RSS after - RSS before) / peers, in KiB (negative if RSS shrank).
    pub fn kib_per_peer(&self) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / self.peers.max(1) as f64 / 1024.0
    }
}

/// The scenario: `n` non-reading peers against the server `pid` at `addr`.
pub fn run(addr: SocketAddr, pid: i32, n: usize, max_bytes: u64, stall: Duration) -> Result<Growth, String> {
    let socks = connect(addr, n, pid).map_err(|e| format!("connect: {e}"))?;
    let rss_before = procfs::rss_bytes(pid).ok_or("no VmRSS (server gone?)")?;
    let peers = fill(socks, max_bytes, stall).map_err(|e| e.to_string())?;
    let rss_after = procfs::rss_bytes(pid).ok_or("no VmRSS after the fill (server died?)")?;
    Ok(Growth { peers: n, mean_sent: peers.mean_sent(), rss_before, rss_after, open: peers })
}
