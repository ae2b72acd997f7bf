//! Measurement driver. See bench/README.md for the method.
//!
//! For each configuration (N connections x S bytes) all servers are started at
//! once, pinned to CPU 0; this process (the load generator) is pinned to CPU 1,
//! keeps connections open to every server and drives load to one server at a
//! time in short windows, in a shuffled order every cycle. Server CPU time is
//! read (ns resolution, process CPU clock) right before each window starts and
//! right after its in-flight messages have drained, so all work for the
//! window's messages is attributed to that window and to nothing else.
//!
//! "ours" (the library's echo example) runs twice, side by side: `ours_epoll`
//! (EVENT_BACKEND=epoll) and `ours_uring` (EVENT_BACKEND=io_uring). Which driver
//! each really runs is checked from its open fds (an `anon_inode:[io_uring]` fd
//! or none), not from its startup line (older builds printed `event::backend()`,
//! the compiled-in multiplexer: "epoll" whatever the driver).
//!
//! `--multicore N`: only `ours_{epoll,uring} --threads N` and `tokio_mt --workers N`,
//! pinned to CPUs 0..N-1, the load generator on the remaining CPUs (unpinned, with a
//! printed caveat, when there are none); same windows and columns, ratio vs tokio_mt.

mod idle;
mod opts;

use idle::run_idle;
use opts::{parse_opts, Opts};

use event_bench::load::{new_load, Load};
use event_bench::server::Transport;
use event_bench::server::{self, kill_all_children, spawn_pinned, unregister_child, KillGuard, Server};
use event_bench::{hist::Hist, hostile, http, procfs, stats, stats::median_ci};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- measurement

/// Syscalls per message from `perf stat`: (total, [(name, count)] largest first).
type SyscallCounts = (f64, Vec<(String, f64)>);

#[derive(Default)]
struct Acc {
    cpu_ns: u64,
    user_ticks: u64,
    sys_ticks: u64,
    msgs: u64,
    msgs_in_window: u64,
    /// UDP: datagrams sent again after the retry timeout.
    lost: u64,
    busy: Duration,
    hist: Hist,
    /// Per-cycle CPU ns per message (NaN when the server was not measured).
    per_cycle: Vec<f64>,
    peak_rss: u64,
    failed: Option<String>,
    syscalls: Option<Result<SyscallCounts, String>>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

fn run_config(opts: &Opts, conns: usize, size: usize, rng: &mut Rng) -> bool {
    let what = match opts.transport {
        Transport::Tcp => "connection(s)",
        Transport::Unix => "Unix stream connection(s)",
        Transport::Udp => "UDP socket(s)",
    };
    let paced = opts.rate.map_or(String::new(), |r| format!(", paced at {r} messages/s (latency from each scheduled start)"));
    println!("\n=== {conns} {what} x {size} B{paced}  ({} s, {} ms windows) ===", opts.seconds, opts.window.as_millis());
    let mut servers: Vec<Server> = Vec::new();
    let mut accs: Vec<Acc> = Vec::new();
    let mut startup_failures = Vec::new();
    for spec in &opts.servers {
        match Server::start(spec, &[], &opts.server_cpus) {
            Ok(s) => {
                servers.push(s);
                accs.push(Acc::default());
            }
            Err(e) => {
                eprintln!("harness: {} FAILED to start: {e}; left out", spec.name);
                startup_failures.push((spec.name.clone(), e));
            }
        }
    }
    let backends: Vec<String> = servers.iter().filter_map(|s| s.backend_seen.as_ref().map(|b| format!("{} = {b}", s.name))).collect();
    if !backends.is_empty() {
        println!("drivers (from the servers' open fds): {}", backends.join(", "));
    }
    let mut lg = new_load(opts.transport, size, opts.rate).unwrap_or_else(|e| {
        eprintln!("harness: load generator: {e}");
        std::process::exit(2)
    });
    let mut tidx = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        match lg.add_target(&s.name, &s.endpoint, conns) {
            Ok(t) => tidx.push(t),
            Err(e) => {
                accs[i].failed = Some(format!("connect: {e}"));
                tidx.push(usize::MAX);
            }
        }
    }
    let fail = |accs: &mut Vec<Acc>, lg: &mut Box<dyn Load>, i: usize, t: usize, e: String| {
        eprintln!("harness: {} FAILED: {e}; excluded from the rest of this configuration", lg.target_name(t));
        accs[i].failed = Some(e);
        lg.drop_target(t);
    };

    let n = servers.len();
    let mut order: Vec<usize> = (0..n).collect();
    // Warm-up cycle, not recorded.
    for &i in &order {
        if accs[i].failed.is_some() {
            continue;
        }
        let mut h = Hist::new();
        if let Err(e) = lg.run_window(tidx[i], opts.window, &mut h, DRAIN_TIMEOUT) {
            fail(&mut accs, &mut lg, i, tidx[i], e.to_string());
        }
    }
    let t_start = Instant::now();
    let mut cycles = 0;
    while t_start.elapsed().as_secs_f64() < opts.seconds || cycles < 6 {
        rng.shuffle(&mut order);
        for &i in &order {
            if accs[i].failed.is_some() {
                accs[i].per_cycle.push(f64::NAN);
                continue;
            }
            let pid = servers[i].pid;
            let (u0, s0) = procfs::user_sys_ticks(pid).unwrap_or((0, 0));
            let c0 = procfs::cpu_ns(pid).unwrap_or(0);
            let r = lg.run_window(tidx[i], opts.window, &mut accs[i].hist, DRAIN_TIMEOUT);
            let c1 = procfs::cpu_ns(pid).unwrap_or(0);
            let (u1, s1) = procfs::user_sys_ticks(pid).unwrap_or((0, 0));
            // A server that died right after answering: its CPU clock reads as 0.
            let r = match r {
                Ok(_) if c1 < c0 || !servers[i].alive() => {
                    Err(std::io::Error::other("server process died (its CPU time could not be read after the window)"))
                }
                r => r,
            };
            match r {
                Ok(w) => {
                    let a = &mut accs[i];
                    a.cpu_ns += c1 - c0;
                    a.user_ticks += u1.saturating_sub(u0);
                    a.sys_ticks += s1.saturating_sub(s0);
                    a.msgs += w.total;
                    a.msgs_in_window += w.in_window;
                    a.lost += w.lost;
                    a.busy += w.dur;
                    a.per_cycle.push((c1 - c0) as f64 / w.total.max(1) as f64);
                }
                Err(e) => {
                    let alive = servers[i].alive();
                    fail(&mut accs, &mut lg, i, tidx[i], format!("{e}{}", if alive { "" } else { " (server process died)" }));
                    accs[i].per_cycle.push(f64::NAN);
                }
            }
        }
        cycles += 1;
    }
    if opts.syscalls {
        for i in 0..n {
            if accs[i].failed.is_none() {
                accs[i].syscalls = Some(count_syscalls(lg.as_mut(), tidx[i], servers[i].pid));
            }
        }
    }
    for (i, s) in servers.iter().enumerate() {
        accs[i].peak_rss = procfs::peak_rss_bytes(s.pid).unwrap_or(0);
    }
    drop(lg);
    drop(servers);
    report(opts, cycles, &names(opts, &startup_failures), &accs, &startup_failures)
}

/// The shared-CPU caveat of --multicore when no CPU is left for the load generator.
fn caveat(opts: &Opts) -> Option<String> {
    let n = opts.multicore?;
    if !opts.loadgen_cpus.is_empty() {
        return None;
    }
    Some(format!(
        "CAVEAT: only {} CPUs, all given to the servers: the load generator is unpinned and SHARES CPUs 0-{} with them. \
         msgs/s and latency are depressed and load-generator-bound; read the ratio vs tokio_mt, not the absolute rates.",
        procfs::online_cpus(),
        n - 1
    ))
}

fn names(opts: &Opts, failures: &[(String, String)]) -> Vec<String> {
    opts.servers.iter().map(|s| s.name.clone()).filter(|n| !failures.iter().any(|(f, _)| f == n)).collect()
}

/// Syscalls named individually (plus raw_syscalls:sys_enter for the exact total).
/// The full `syscalls:sys_enter_*` glob (~360 tracepoints) takes ~10+ s to attach
/// and detach here and perturbs every CPU while it does, so it is not used.
const NAMED_SYSCALLS: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
    "recvmmsg",
    "sendmmsg",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
    "io_uring_enter",
    "futex",
    "sched_yield",
    "accept4",
    "accept",
    "ioctl",
    "poll",
    "ppoll",
    "timerfd_settime",
    "clock_nanosleep",
    "nanosleep",
    "brk",
    "mmap",
    "munmap",
    "madvise",
    "mprotect",
    "close",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "fcntl",
    "eventfd2",
];

/// One extra 1 s window with `perf stat` attached to the server.
fn count_syscalls(lg: &mut dyn Load, t: usize, pid: i32) -> Result<SyscallCounts, String> {
    let out = std::env::temp_dir().join(format!("event-bench-perf-{}-{pid}.csv", std::process::id()));
    let mut events = String::from("raw_syscalls:sys_enter");
    for s in NAMED_SYSCALLS {
        events.push_str(",syscalls:sys_enter_");
        events.push_str(s);
    }
    let args: Vec<String> =
        ["stat", "-x", ",", "-o", out.to_str().unwrap(), "-e", &events, "-p", &pid.to_string()].iter().map(|s| s.to_string()).collect();
    let mut perf = spawn_pinned(None, Path::new("perf"), &args, &[], true).map_err(|e| format!("perf: {e}"))?;
    std::thread::sleep(Duration::from_millis(1000)); // let perf attach
    if let Ok(Some(st)) = perf.try_wait() {
        unregister_child(perf.id() as i32);
        return Err(format!("perf exited early ({st}): {}", std::fs::read_to_string(&out).unwrap_or_default().trim()));
    }
    let mut h = Hist::new();
    let w = lg.run_window(t, Duration::from_secs(1), &mut h, DRAIN_TIMEOUT);
    std::thread::sleep(Duration::from_millis(20));
    server::send_signal(perf.id() as i32, libc::SIGINT);
    let _ = perf.wait();
    unregister_child(perf.id() as i32);
    let w = w.map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("perf output: {e}"))?;
    let _ = std::fs::remove_file(&out);
    let per_msg = |c: f64| c / w.total.max(1) as f64;
    let mut total = None;
    let mut counts: Vec<(String, f64)> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 3 {
            continue;
        }
        let Ok(c) = f[0].trim().parse::<f64>() else { continue };
        if f[2] == "raw_syscalls:sys_enter" {
            total = Some(per_msg(c));
        } else if let Some(name) = f[2].strip_prefix("syscalls:sys_enter_") {
            if c > 0.0 {
                counts.push((name.to_string(), per_msg(c)));
            }
        }
    }
    let Some(total) = total else {
        return Err(format!("perf counted nothing: {}", text.lines().filter(|l| !l.is_empty()).take(2).collect::<Vec<_>>().join(" | ")));
    };
    counts.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    let other = total - counts.iter().map(|c| c.1).sum::<f64>();
    if other > 0.005 {
        counts.push(("other".into(), other));
    }
    Ok((total, counts))
}

fn fmt_ratio(x: Option<(f64, f64, f64)>) -> String {
    match x {
        Some((m, lo, hi)) => format!("{m:.3} [{lo:.3},{hi:.3}]"),
        None => "-".into(),
    }
}

fn ratio_vs(accs: &[Acc], names: &[String], i: usize, reference: &str) -> Option<(f64, f64, f64)> {
    let r = names.iter().position(|n| n == reference)?;
    if accs[r].failed.is_some() && accs[r].per_cycle.iter().all(|x| x.is_nan()) {
        return None;
    }
    let v: Vec<f64> = accs[i].per_cycle.iter().zip(&accs[r].per_cycle).map(|(a, b)| a / b).collect();
    median_ci(&v)
}

/// One churn window: connections to `addr` one after another for `dur`, each echoing 64 bytes
/// and closed by the client (orderly; loopback reuses TIME_WAIT ports, `tcp_tw_reuse` = 2 by
/// default). Returns how many completed.
fn churn_window(addr: SocketAddr, dur: Duration) -> std::io::Result<u64> {
    use std::io::{Read, Write};
    let msg = [0x5au8; 64];
    let mut buf = [0u8; 64];
    let end = Instant::now() + dur;
    let mut n = 0;
    while Instant::now() < end {
        let mut s = std::net::TcpStream::connect_timeout(&addr, DRAIN_TIMEOUT)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(DRAIN_TIMEOUT))?;
        s.write_all(&msg)?;
        s.read_exact(&mut buf)?;
        if buf != msg {
            return Err(std::io::Error::other("echoed bytes differ"));
        }
        n += 1;
    }
    Ok(n)
}

/// `--churn`: every server at once on CPU 0; windows of connection churn in a shuffled order per
/// cycle; server CPU per connection, and its per-cycle ratios to tokio_ct and each floor that ran (median, 95% CI).
fn run_churn(opts: &Opts, rng: &mut Rng) -> bool {
    println!("\n=== connection churn: connect, 64 B echoed, close ({} s, {} ms windows) ===", opts.seconds, opts.window.as_millis());
    let mut servers: Vec<Server> = Vec::new();
    for spec in &opts.servers {
        match Server::start(spec, &[], &opts.server_cpus) {
            Ok(s) => servers.push(s),
            Err(e) => eprintln!("harness: {} FAILED to start: {e}; left out", spec.name),
        }
    }
    let n = servers.len();
    let mut failed: Vec<Option<String>> = vec![None; n];
    let (mut cpu_ns, mut conns, mut busy) = (vec![0u64; n], vec![0u64; n], vec![Duration::ZERO; n]);
    let mut per_cycle: Vec<Vec<f64>> = vec![Vec::new(); n];
    for (i, s) in servers.iter().enumerate() {
        if let Err(e) = churn_window(s.addr, opts.window) {
            failed[i] = Some(e.to_string());
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    let t_start = Instant::now();
    let mut cycles = 0;
    while t_start.elapsed().as_secs_f64() < opts.seconds || cycles < 6 {
        rng.shuffle(&mut order);
        for &i in &order {
            if failed[i].is_some() {
                per_cycle[i].push(f64::NAN);
                continue;
            }
            let pid = servers[i].pid;
            let t0 = Instant::now();
            let c0 = procfs::cpu_ns(pid).unwrap_or(0);
            let r = churn_window(servers[i].addr, opts.window);
            let c1 = procfs::cpu_ns(pid).unwrap_or(0);
            match r {
                Ok(k) if c1 >= c0 && servers[i].alive() => {
                    cpu_ns[i] += c1 - c0;
                    conns[i] += k;
                    busy[i] += t0.elapsed();
                    per_cycle[i].push((c1 - c0) as f64 / k.max(1) as f64);
                }
                r => {
                    let e = r.err().map_or("server process died".to_string(), |e| e.to_string());
                    eprintln!("harness: {} FAILED: {e}; excluded from the rest of the run", servers[i].name);
                    failed[i] = Some(e);
                    per_cycle[i].push(f64::NAN);
                }
            }
        }
        cycles += 1;
    }
    // A ratio column for each reference server that ran (tokio_ct and the floors).
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let refs: Vec<(&str, usize)> = opts.refs.iter().filter_map(|r| names.iter().position(|n| n == r).map(|i| (*r, i))).collect();
    println!("{cycles} cycles; CPU = server process CPU time per connection; ratios = median over cycles of per-cycle ratio [95% CI of the median]");
    let mut header = format!("{:<16} {:>9} {:>12}", "server", "conns/s", "CPU/conn(us)");
    for (r, _) in &refs {
        header.push_str(&format!(" {:>22}", format!("vs {r}")));
    }
    println!("{header}");
    for i in 0..n {
        if let Some(e) = &failed[i] {
            println!("{:<16} FAILED: {e}", servers[i].name);
            continue;
        }
        let rate = conns[i] as f64 / busy[i].as_secs_f64().max(1e-9);
        let cpu = cpu_ns[i] as f64 / conns[i].max(1) as f64 / 1000.0;
        let mut line = format!("{:<16} {:>9.0} {:>12.2}", servers[i].name, rate, cpu);
        for &(_, r) in &refs {
            let xs: Vec<f64> = per_cycle[i].iter().zip(&per_cycle[r]).map(|(a, b)| a / b).collect();
            line.push_str(&format!(" {:>22}", fmt_ratio(stats::median_ci(&xs))));
        }
        println!("{line}");
    }
    drop(servers);
    failed.iter().all(|f| f.is_none())
}

fn report(opts: &Opts, cycles: usize, names: &[String], accs: &[Acc], startup_failures: &[(String, String)]) -> bool {
    if opts.transport == Transport::Udp {
        println!("lost = datagrams whose echo had not come back after {:?}, sent again", event_bench::udp_load::RETRY);
    }
    println!("{cycles} cycles; CPU = server process CPU time per echoed message; ratios = median over cycles of per-cycle ratio [95% CI of the median]");
    let mut header = format!(
        "{:<16} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "server", "msgs/s", "p50(us)", "p99(us)", "p99.9", "CPU/msg", "user/msg", "sys/msg", "RSS(MiB)"
    );
    let udp = opts.transport == Transport::Udp;
    if udp {
        header.push_str(&format!(" {:>7}", "lost"));
    }
    // A reference column only for a reference that ran.
    let refs: Vec<&str> = opts.refs.iter().copied().filter(|r| names.iter().any(|n| n == r)).collect();
    for r in &refs {
        header.push_str(&format!(" {:>22}", format!("vs {r}")));
    }
    println!("{header}");
    let mut ok = true;
    for (i, a) in accs.iter().enumerate() {
        let name = &names[i];
        if a.msgs == 0 {
            println!("{name:<16} FAILED: {}", a.failed.as_deref().unwrap_or("no messages"));
            ok = false;
            continue;
        }
        let cpu = a.cpu_ns as f64 / a.msgs as f64 / 1000.0;
        let ticks = (a.user_ticks + a.sys_ticks) as f64;
        let (user, sys) =
            if ticks > 0.0 { (cpu * a.user_ticks as f64 / ticks, cpu * a.sys_ticks as f64 / ticks) } else { (f64::NAN, f64::NAN) };
        let us = |ns: u64| ns as f64 / 1000.0;
        let mut ratios = if udp { format!(" {:>7}", a.lost) } else { String::new() };
        for r in &refs {
            ratios.push_str(&format!(" {:>22}", fmt_ratio(ratio_vs(accs, names, i, r))));
        }
        println!(
            "{:<16} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.1}{}",
            name,
            a.msgs_in_window as f64 / a.busy.as_secs_f64(),
            us(a.hist.quantile(0.5)),
            us(a.hist.quantile(0.99)),
            us(a.hist.quantile(0.999)),
            cpu,
            user,
            sys,
            a.peak_rss as f64 / (1 << 20) as f64,
            ratios,
        );
        if let Some(e) = &a.failed {
            println!("{:<16} FAILED part-way (stats above cover the windows before): {e}", "");
            ok = false;
        }
    }
    for (n, e) in startup_failures {
        println!("{n:<16} FAILED to start: {e}");
        // io_uring peers may be refused by the host (seccomp, an old kernel): reported, not fatal.
        if !["monoio", "uring_loop", "uring_loop_plain", "uring_tasks"].contains(&n.as_str()) {
            ok = false;
        }
    }
    if let Some(c) = caveat(opts) {
        println!("{c}");
    }
    if opts.syscalls {
        println!("system calls per message (perf stat, raw_syscalls:sys_enter + named syscalls:sys_enter_*, one 1 s window per server):");
        for (i, a) in accs.iter().enumerate() {
            match &a.syscalls {
                Some(Ok((total, top))) => {
                    let tops: Vec<String> = top.iter().take(6).map(|(n, c)| format!("{n} {c:.2}")).collect();
                    println!("  {:<16} {:>6.2}  ({})", names[i], total, tops.join(", "));
                }
                Some(Err(e)) => println!("  {:<16} unavailable: {e}", names[i]),
                None => {}
            }
        }
    }
    ok
}

// ---------------------------------------------------------------- main

fn main() {
    let opts = parse_opts();
    server::install_signal_handlers();
    let _guard = KillGuard;
    let nofile = procfs::raise_nofile();
    if opts.idle || opts.multicore.is_none() {
        if !procfs::pin_to_cpu(1) {
            eprintln!("harness: warning: could not pin the load generator to CPU 1");
        }
    } else if !opts.loadgen_cpus.is_empty() && !procfs::pin_to_cpus(&opts.loadgen_cpus) {
        eprintln!("harness: warning: could not pin the load generator to CPUs {:?}", opts.loadgen_cpus);
    }
    let ok = if let Some(h) = &opts.http {
        http::run(h)
    } else if let Some(h) = &opts.hostile {
        if (nofile as usize) < h.burst_conns + 200 {
            eprintln!("harness: warning: RLIMIT_NOFILE is {nofile}, below {} connections", h.burst_conns);
        }
        hostile::run(h)
    } else if opts.idle {
        if (nofile as usize) < opts.idle_conns + 100 {
            eprintln!("harness: warning: RLIMIT_NOFILE is {nofile}, below {} connections", opts.idle_conns);
        }
        run_idle(&opts)
    } else {
        let mut rng = Rng(0x1234_5678_9abc_def1 ^ std::process::id() as u64);
        let names: Vec<String> = opts.servers.iter().map(|s| s.name.clone()).collect();
        match opts.multicore {
            None => println!("servers: {} (each pinned to CPU 0; load generator on CPU 1)", names.join(", ")),
            Some(n) => {
                let lg = if opts.loadgen_cpus.is_empty() {
                    "load generator (one thread) UNPINNED".to_string()
                } else {
                    format!("load generator (one thread) pinned to CPUs {:?}", opts.loadgen_cpus)
                };
                println!(
                    "multicore {n}: servers: {} (ours_epoll/ours_uring --threads {n}, tokio_mt --workers {n}; each pinned to CPUs {}); {lg}",
                    names.join(", "),
                    opts.server_cpus
                );
                if let Some(c) = caveat(&opts) {
                    println!("{c}");
                }
            }
        }
        let mut ok = true;
        if opts.churn {
            ok &= run_churn(&opts, &mut rng);
        } else {
            for &(c, s) in &opts.configs {
                ok &= run_config(&opts, c, s, &mut rng);
            }
        }
        ok
    };
    kill_all_children();
    if !ok {
        eprintln!("harness: some servers FAILED (see above)");
        std::process::exit(1);
    }
}
