//! Fairness: two clients flood the echo server (each streams 64 KiB writes as fast as the
//! server takes them, and a second thread reads the echo back concurrently) while a third
//! client does 64-byte ping-pong. A server that serves an always-ready connection until its
//! socket drains starves the ping-pong: its p99 and worst round trip show it.

use crate::hist::Hist;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a blocked read or write may take before the scenario gives up.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CHUNK: usize = 64 * 1024;
const FLOODERS: usize = 2;
/// After the flood stops, a reader that has received nothing for this long is done.
const QUIET: Duration = Duration::from_secs(1);

pub struct Fairness {
    /// Ping-pong round trips (ns) with no flood, for reference.
    pub alone: Hist,
    /// Ping-pong round trips (ns) beside the flood.
    pub flooded: Hist,
    /// Echoed MiB/s of each flooder while the ping-pong ran.
    pub flood_mib_s: [f64; FLOODERS],
}

struct Flooder {
    writer: JoinHandle<io::Result<()>>,
    reader: JoinHandle<io::Result<()>>,
    echoed: Arc<AtomicU64>,
}

/// Runs the scenario against `addr`: 1 s of ping-pong alone, then `secs` beside the flood.
pub fn run(addr: SocketAddr, secs: f64) -> Result<Fairness, String> {
    let mut ping = connect(addr).map_err(|e| format!("ping-pong connect: {e}"))?;
    let mut alone = Hist::new();
    ping_pong(&mut ping, Duration::from_secs(1), &mut alone).map_err(|e| format!("ping-pong alone: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        flooders.push(flood(addr, &stop).map_err(|e| format!("flooder connect: {e}"))?);
    }
    std::thread::sleep(Duration::from_millis(300)); // let the flood reach full speed
    let before: Vec<u64> = flooders.iter().map(|f| f.echoed.load(Ordering::Relaxed)).collect();
    let t0 = Instant::now();
    let mut flooded = Hist::new();
    let pinged = ping_pong(&mut ping, Duration::from_secs_f64(secs), &mut flooded);
    let elapsed = t0.elapsed().as_secs_f64();
    let mut flood_mib_s = [0.0; FLOODERS];
    for (i, f) in flooders.iter().enumerate() {
        flood_mib_s[i] = (f.echoed.load(Ordering::Relaxed) - before[i]) as f64 / elapsed / (1 << 20) as f64;
    }
    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for f in flooders {
        for r in [f.writer.join(), f.reader.join()] {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(format!("flooder: {e}")),
                Err(_) => errors.push("flooder thread panicked".into()),
            }
        }
    }
    pinged.map_err(|e| {
        let e = if timed_out(&e) { format!("no echo for {} s (starved)", IO_TIMEOUT.as_secs()) } else { e.to_string() };
        format!("ping-pong beside the flood: {e}")
    })?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    Ok(Fairness { alone, flooded, flood_mib_s })
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// 64-byte round trips, one at a time, for `dur`; every echoed byte is checked.
fn ping_pong(s: &mut TcpStream, dur: Duration, hist: &mut Hist) -> io::Result<()> {
    let mut msg = [0u8; 64];
    let mut back = [0u8; 64];
    let end = Instant::now() + dur;
    let mut seq = 0u8;
    while Instant::now() < end {
        seq = seq.wrapping_add(1);
        for (i, b) in msg.iter_mut().enumerate() {
            *b = seq.wrapping_add(i as u8);
        }
        let t0 = Instant::now();
        s.write_all(&msg)?;
        s.read_exact(&mut back)?;
        hist.record(t0.elapsed().as_nanos() as u64);
        if back != msg {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "echoed bytes differ"));
        }
    }
    Ok(())
}

/// One flooding client: a writer thread streaming CHUNK-byte writes until `stop` (then a
/// half-close), and a reader thread counting the echoed bytes until EOF. A flooder the server
/// starves (no progress for IO_TIMEOUT) keeps waiting while the flood lasts: that is a figure
/// (its MiB/s), not a failure; after `stop` the reader ends at EOF or after QUIET without bytes.
fn flood(addr: SocketAddr, stop: &Arc<AtomicBool>) -> io::Result<Flooder> {
    let mut w = connect(addr)?;
    let mut r = w.try_clone()?;
    let echoed = Arc::new(AtomicU64::new(0));
    let stop_w = Arc::clone(stop);
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let chunk = vec![0xa5u8; CHUNK];
        while !stop_w.load(Ordering::Relaxed) {
            match w.write(&chunk) {
                Ok(_) => {}
                Err(e) if timed_out(&e) => {}
                Err(e) => return Err(e),
            }
        }
        w.shutdown(Shutdown::Write)
    });
    let count = Arc::clone(&echoed);
    let stop_r = Arc::clone(stop);
    r.set_read_timeout(Some(Duration::from_millis(200)))?;
    let reader = std::thread::spawn(move || -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        let mut last_byte = Instant::now();
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    count.fetch_add(n as u64, Ordering::Relaxed);
                    last_byte = Instant::now();
                }
                Err(e) if timed_out(&e) => {}
                Err(e) => return Err(e),
            }
            // The flood is over and measured: the rest of the echo (or the EOF, which the
            // edge-triggered mio_loop may never send) does not matter any more.
            if stop_r.load(Ordering::Relaxed) && last_byte.elapsed() > QUIET {
                return Ok(());
            }
        }
    });
    Ok(Flooder { writer, reader, echoed })
}

/// A blocking read or write that hit its SO_RCVTIMEO/SO_SNDTIMEO (EAGAIN on Linux).
fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}
