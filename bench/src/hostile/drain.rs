//! Drain overshoot: ours started with `--drain-timeout D`, peers that stopped reading so their
//! echo backs up (every connection is mid-write and cannot finish), then SIGTERM. The server
//! should exit D after the signal; the overshoot is (time to exit) - D.

use super::nonreading;
use crate::server::{self, Server};
use std::time::{Duration, Instant};

/// How long after SIGTERM the scenario waits for the exit before giving up (and killing).
const EXIT_WAIT: Duration = Duration::from_secs(30);

pub struct Drain {
    pub peers: usize,
    pub mean_sent: f64,
    /// From SIGTERM to the process's exit.
    pub exit_after: Duration,
    pub status: String,
}

/// Fills `n` non-reading peers (stall `stall`), sends SIGTERM to `s`, waits for it to exit.
pub fn run(s: &mut Server, n: usize, max_bytes: u64, stall: Duration) -> Result<Drain, String> {
    let socks = nonreading::connect(s.addr, n, s.pid).map_err(|e| format!("connect: {e}"))?;
    let peers = nonreading::fill(socks, max_bytes, stall).map_err(|e| e.to_string())?;
    if !s.alive() {
        return Err("server died before SIGTERM".into());
    }
    let t0 = Instant::now();
    if !server::send_signal(s.pid, libc::SIGTERM) {
        return Err(format!("SIGTERM: {}", std::io::Error::last_os_error()));
    }
    let status = loop {
        match s.child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if t0.elapsed() < EXIT_WAIT => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => return Err(format!("still running {} s after SIGTERM", EXIT_WAIT.as_secs())),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let exit_after = t0.elapsed();
    // The peers stay open (unread) until the server is gone, then close.
    let mean_sent = peers.mean_sent();
    drop(peers);
    Ok(Drain { peers: n, mean_sent, exit_after, status: status.to_string() })
}
