//! Standalone load generator: one thread, mio, ping-pong echo against ONE server.
//!
//!   loadgen --addr 127.0.0.1:PORT [--conns 50] [--size 64] [--seconds 5] [--pid SERVER_PID]
//!   loadgen --udp --addr 127.0.0.1:PORT ...   # --conns UDP sockets, --size-byte datagrams
//!   loadgen --unix PATH ...                   # stream echo over a Unix-domain socket
//!   loadgen --addr 127.0.0.1:PORT --churn [--seconds 5]
//!
//! `--churn`: connections one after another (connect, 64 B echoed and checked, orderly close,
//! as the harness's `--churn` windows), printing how many completed (`connections=N`), for
//! per-connection counts (callgrind, `bench/allocs.sh`).
//!
//! Every echoed byte is verified (exit status 1 on mismatch or error); with --udp a datagram
//! not echoed within 200 ms is counted lost and sent again. Prints messages/s and
//! p50/p99/p99.9 latency; with --pid also the server's CPU time per message. The multi-server
//! measurement driver is `harness`.
use event_bench::server::{Endpoint, Transport};
use event_bench::{arg_value, hist::Hist, load::new_load, procfs};
use std::time::{Duration, Instant};

fn main() {
    let (transport, at) = match arg_value("unix") {
        Some(path) => (Transport::Unix, Endpoint::Unix(path.into())),
        None if std::env::args().any(|a| a == "--udp") => (Transport::Udp, Endpoint::Udp(event_bench::server_addr())),
        None => (Transport::Tcp, Endpoint::Tcp(event_bench::server_addr())),
    };
    let conns: usize = arg_value("conns").map(|v| v.parse().expect("--conns")).unwrap_or(50);
    let size: usize = arg_value("size").map(|v| v.parse().expect("--size")).unwrap_or(64);
    let secs: f64 = arg_value("seconds").map(|v| v.parse().expect("--seconds")).unwrap_or(5.0);
    let pid: Option<i32> = arg_value("pid").map(|v| v.parse().expect("--pid"));
    procfs::raise_nofile();
    if std::env::args().any(|a| a == "--churn") {
        return churn(event_bench::server_addr(), secs);
    }
    let mut lg = new_load(transport, size, None).unwrap_or_else(|e| fail(&e));
    let t = lg.add_target("server", &at, conns).unwrap_or_else(|e| fail(&e));
    let mut hist = Hist::new();
    let (mut msgs, mut total, mut lost, mut busy) = (0u64, 0u64, 0u64, Duration::ZERO);
    let cpu0 = pid.and_then(procfs::cpu_ns);
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        let w = lg.run_window(t, Duration::from_millis(100), &mut hist, Duration::from_secs(10)).unwrap_or_else(|e| fail(&e));
        msgs += w.in_window;
        total += w.total;
        lost += w.lost;
        busy += w.dur;
    }
    let cpu1 = pid.and_then(procfs::cpu_ns);
    let us = |ns: u64| ns as f64 / 1000.0;
    println!(
        "conns={conns} size={size} messages={total} msgs/s={:.0} p50={:.1}us p99={:.1}us p99.9={:.1}us max={:.1}us{}",
        msgs as f64 / busy.as_secs_f64(),
        us(hist.quantile(0.5)),
        us(hist.quantile(0.99)),
        us(hist.quantile(0.999)),
        us(hist.max()),
        if transport == Transport::Udp { format!(" lost={lost}") } else { String::new() }
    );
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        println!("server cpu/msg={:.2}us (whole run, includes gaps between windows)", (b - a) as f64 / 1000.0 / total as f64);
    }
}

/// Connections one after another for `secs`: connect, 64 bytes echoed and checked, close.
fn churn(addr: std::net::SocketAddr, secs: f64) {
    use std::io::{Read, Write};
    let msg = [0x5au8; 64];
    let mut buf = [0u8; 64];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let mut run = || -> std::io::Result<()> {
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.write_all(&msg)?;
            s.read_exact(&mut buf)?;
            if buf != msg {
                return Err(std::io::Error::other("echoed bytes differ"));
            }
            Ok(())
        };
        run().unwrap_or_else(|e| fail(&e));
        n += 1;
    }
    println!("connections={n} per_s={:.0}", n as f64 / start.elapsed().as_secs_f64());
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("loadgen: error: {e}");
    std::process::exit(1)
}
