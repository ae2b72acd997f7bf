//! Hostile clients: 2,000 peers (fewer if RLIMIT_NOFILE does not allow it, after raising the
//! soft limit to the hard one) connect at once from several threads, each sends 64 bytes and
//! must get them back. All must succeed, in generous time; the connect latencies are printed
//! (issue 17: SYNs dropped at a full backlog are retried after a second).
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::clients::{Pattern, set_timeouts, summary};
use common::echo_process::EchoServer;

const WANTED: u64 = 2000;
const THREADS: u64 = 16;
/// The whole burst must be served within this (a bound on progress, not a speed target).
const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_burst_of_connects_is_served_in_full() {
    // Raised before the server starts, so it inherits the limit too.
    let nofile = common::sys::raise_nofile_limit();
    let Some(echo) = EchoServer::start("hostile_connect_burst", &[]) else {
        return;
    };
    // Each side holds one descriptor per client, plus a few of its own.
    let clients = WANTED.min(nofile.saturating_sub(128)) / THREADS * THREADS;
    assert!(clients >= 100, "RLIMIT_NOFILE {nofile} is too low");
    let per_thread = clients / THREADS;
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let addr = echo.addr;
    let start = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let begin = Instant::now();
                let mut conns = Vec::new();
                let mut connect_times = Vec::new();
                let mut errors = Vec::new();
                for i in 0..per_thread {
                    let at = Instant::now();
                    match TcpStream::connect_timeout(&addr, LIMIT) {
                        Ok(s) => {
                            connect_times.push(at.elapsed());
                            conns.push((t * per_thread + i, s));
                        }
                        Err(e) => errors.push(format!("connect {}: {e}", t * per_thread + i)),
                    }
                }
                // Every connection of this thread is open: now each one echoes 64 bytes.
                let mut first_echo = Vec::new();
                for (id, s) in &mut conns {
                    set_timeouts(s, LIMIT);
                    let msg = Pattern::new(0xB0B5 + *id).bytes(0, 64);
                    if let Err(e) = s.write_all(&msg) {
                        errors.push(format!("write {id}: {e}"));
                    }
                }
                for (id, s) in &mut conns {
                    let msg = Pattern::new(0xB0B5 + *id).bytes(0, 64);
                    let mut back = [0u8; 64];
                    match s.read_exact(&mut back) {
                        Ok(()) if back[..] == msg[..] => first_echo.push(begin.elapsed()),
                        Ok(()) => errors.push(format!("client {id}: echo altered")),
                        Err(e) => errors.push(format!("read {id}: {e}")),
                    }
                }
                (conns, connect_times, first_echo, errors)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let elapsed = start.elapsed();
    let server_fds = echo.fd_count();
    let connect_times: Vec<Duration> = results.iter().flat_map(|r| r.1.clone()).collect();
    let first_echo: Vec<Duration> = results.iter().flat_map(|r| r.2.clone()).collect();
    let errors: Vec<&String> = results.iter().flat_map(|r| &r.3).collect();
    let slow = connect_times
        .iter()
        .filter(|t| **t > Duration::from_secs(1))
        .count();
    println!(
        "hostile_connect_burst [{}]: {clients} clients from {THREADS} threads (RLIMIT_NOFILE \
         {nofile}) in {elapsed:.2?}; connect {}; {slow} connects over 1 s; to echo (from the start) {}; \
         server fds with all open: {server_fds}",
        echo.backend,
        summary(&connect_times),
        summary(&first_echo)
    );
    assert!(
        errors.is_empty(),
        "{} of {clients} failed, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(first_echo.len() as u64, clients);
    assert!(elapsed < LIMIT, "the burst took {elapsed:?}");
    assert!(
        server_fds as u64 >= clients,
        "the server holds {server_fds} descriptors for {clients} open clients"
    );
}
