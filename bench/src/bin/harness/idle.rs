//! `--idle`: memory per idle connection, one server at a time.

use crate::opts::Opts;
use event_bench::procfs;
use event_bench::server::{Server, Spec};
use std::time::{Duration, Instant};

pub fn run_idle(opts: &Opts) -> bool {
    let mut ok = true;
    println!("\n=== idle connections: memory per connection ({} connections, nothing sent) ===", opts.idle_conns);
    println!("{:<11} {:>10} {:>12} {:>12} {:>14}", "server", "accepted", "RSS before", "RSS after", "bytes/conn");
    println!("(bytes/conn = (RSS after - RSS before) / accepted connections; accepted = growth of the server's open fds)");
    for spec in &opts.idle_servers {
        match idle_one(spec, opts.idle_conns) {
            Ok((accepted, before, after)) => {
                println!(
                    "{:<11} {:>10} {:>10.1}Mi {:>10.1}Mi {:>14.0}",
                    spec.name,
                    accepted,
                    before as f64 / (1 << 20) as f64,
                    after as f64 / (1 << 20) as f64,
                    (after as f64 - before as f64) / accepted.max(1) as f64
                );
                if accepted < opts.idle_conns {
                    println!("{:<11} WARNING: server accepted only {accepted} of {} connections", "", opts.idle_conns);
                }
            }
            Err(e) => {
                println!("{:<11} FAILED: {e}", spec.name);
                ok = false;
            }
        }
    }
    ok
}

fn idle_one(spec: &Spec, n: usize) -> Result<(usize, u64, u64), String> {
    let mut server = Server::start(spec, &[], "0")?;
    let pid = server.pid;
    std::thread::sleep(Duration::from_millis(300));
    let base_fds = procfs::fd_count(pid);
    let before = procfs::rss_bytes(pid).ok_or("no VmRSS")?;
    let mut conns = Vec::with_capacity(n);
    // Waits until the server holds `target` fds, or until the count has not
    // grown for `stall` (server stopped accepting, e.g. a connection limit).
    let wait_fds = |target: usize, stall: Duration| -> usize {
        let mut last = procfs::fd_count(pid);
        let mut t_last = Instant::now();
        loop {
            let c = procfs::fd_count(pid);
            if c >= target {
                return c;
            }
            if c != last {
                last = c;
                t_last = Instant::now();
            } else if t_last.elapsed() > stall {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    while conns.len() < n {
        for _ in 0..500.min(n - conns.len()) {
            let s = std::net::TcpStream::connect_timeout(&server.addr, Duration::from_secs(5))
                .map_err(|e| format!("connect #{}: {e}", conns.len() + 1))?;
            conns.push(s);
        }
        // Keep the accept backlog short: wait until the server has (nearly) caught up.
        wait_fds(base_fds + conns.len().saturating_sub(200), Duration::from_secs(2));
        if !server.alive() {
            return Err(format!("server died after {} connections", conns.len()));
        }
    }
    let fds = wait_fds(base_fds + n, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1000));
    let after = procfs::rss_bytes(pid).ok_or("no VmRSS")?;
    let accepted = fds.saturating_sub(base_fds);
    if !server.alive() {
        return Err("server died".into());
    }
    server.kill();
    drop(conns);
    Ok((accepted, before, after))
}
