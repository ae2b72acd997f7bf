//! `harness --http`: HTTP servers measured as the echo servers are, in interleaved windows.
//!
//! All servers of a configuration are started at once, pinned to CPU 0; the load generator
//! ([`client::HttpLoad`], in the harness, pinned to CPU 1) drives one server at a time in
//! ~100 ms windows, in a freshly shuffled order every cycle. Each server's process CPU clock is
//! read right before a window's first request and again after every request in flight at the
//! deadline has been answered, so CPU per request is measured exactly as CPU per message is.
//! The ratio to `hyper_tokio` is the median over cycles of the per-cycle ratio, with a 95%
//! interval. `--wrk` adds one wrk run per server afterwards as a cross-check of requests/s,
//! `--h2load` one HTTP/2 (h2c) h2load run per server.

pub mod client;
pub mod h2load;
pub mod handler;
pub mod wrk;

use crate::hist::Hist;
use crate::server::{Server, Spec};
use crate::{procfs, stats::median_ci};
use client::{HttpLoad, Kind};
use std::time::{Duration, Instant};

/// The reference of the ratio column.
pub const REFERENCE: &str = "hyper_tokio";

/// One configuration: what each request is, and how many connections (Close: how many at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub kind: Kind,
    pub conns: usize,
    /// `@RATE`: requests/s offered to each server (paced); None: closed loop.
    pub rate: Option<u32>,
}

impl Config {
    /// `get:N`, `post:N:BYTES` or `close:N`, each with an optional `@RATE` (paced).
    pub fn parse(s: &str) -> Result<Config, String> {
        let (s, rate) = match s.trim().split_once('@') {
            Some((c, r)) => {
                let r: u32 = r.parse().map_err(|e| format!("{s:?}: rate: {e}"))?;
                if r == 0 {
                    return Err(format!("{s:?}: the rate must be > 0"));
                }
                (c, Some(r))
            }
            None => (s, None),
        };
        let f: Vec<&str> = s.trim().split(':').collect();
        let num = |i: usize| -> Result<usize, String> {
            f.get(i).ok_or(format!("{s:?}: missing field {}", i + 1))?.parse().map_err(|e| format!("{s:?}: {e}"))
        };
        let kind = match (f[0], f.len()) {
            ("get", 2) => Kind::Get,
            ("close", 2) => Kind::Close,
            ("post", 3) => Kind::Post(num(2)?),
            _ => return Err(format!("{s:?}: expected get:CONNS, post:CONNS:BYTES or close:CONNS")),
        };
        let conns = num(1)?;
        if conns == 0 || kind == Kind::Post(0) {
            return Err(format!("{s:?}: connections and body size must be > 0"));
        }
        Ok(Config { kind, conns, rate })
    }

    /// A comma-separated list of configurations.
    pub fn parse_list(list: &str) -> Result<Vec<Config>, String> {
        list.split(',').filter(|s| !s.trim().is_empty()).map(Config::parse).collect()
    }

    pub fn title(&self) -> String {
        let what = match self.kind {
            Kind::Get => format!("{} keep-alive connections x GET /hello", self.conns),
            Kind::Post(n) => format!("{} keep-alive connections x POST /echo of {n} B", self.conns),
            Kind::Close => format!("{} at once x new connection per request (GET /hello, Connection: close)", self.conns),
        };
        match self.rate {
            Some(r) => format!("{what}, paced at {r} requests/s (latency from each request's scheduled start)"),
            None => what,
        }
    }
}

pub struct Opts {
    pub servers: Vec<Spec>,
    pub configs: Vec<Config>,
    pub seconds: f64,
    pub window: Duration,
    /// `--wrk`: one wrk run of this many seconds per server after the windows (None: no wrk).
    pub wrk_seconds: Option<f64>,
    /// `--h2load`: one h2load run of this many seconds per server, get and post configs.
    pub h2load_seconds: Option<f64>,
}

/// What one server accumulated over its windows.
#[derive(Default)]
struct Acc {
    cpu_ns: u64,
    user_ticks: u64,
    sys_ticks: u64,
    reqs: u64,
    reqs_in_window: u64,
    busy: Duration,
    hist: Hist,
    /// Per-cycle CPU ns per request (NaN when not measured).
    per_cycle: Vec<f64>,
    peak_rss: u64,
    failed: Option<String>,
    wrk: Option<Result<wrk::Run, String>>,
    h2: Option<Result<h2load::Run, String>>,
}

struct Rng(u64);
impl Rng {
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            v.swap(i, (self.0 % (i as u64 + 1)) as usize);
        }
    }
}

const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every configuration; false if any server failed.
pub fn run(opts: &Opts) -> bool {
    let names: Vec<&str> = opts.servers.iter().map(|s| s.name.as_str()).collect();
    println!("http servers: {} (each pinned to CPU 0; load generator on CPU 1)", names.join(", "));
    let mut rng = Rng(0x1234_5678_9abc_def1 ^ std::process::id() as u64);
    let mut ok = true;
    for c in &opts.configs {
        ok &= run_config(opts, c, &mut rng);
    }
    ok
}

fn run_config(opts: &Opts, config: &Config, rng: &mut Rng) -> bool {
    println!("\n=== {}  ({} s, {} ms windows) ===", config.title(), opts.seconds, opts.window.as_millis());
    let mut servers = Vec::new();
    let mut startup_failures = Vec::new();
    for spec in &opts.servers {
        match Server::start(spec, &[], "0") {
            Ok(s) => servers.push(s),
            Err(e) => {
                eprintln!("harness: {} FAILED to start: {e}; left out", spec.name);
                startup_failures.push((spec.name.clone(), e));
            }
        }
    }
    let drivers: Vec<String> = servers.iter().filter_map(|s| s.backend_seen.as_ref().map(|b| format!("{} = {b}", s.name))).collect();
    if !drivers.is_empty() {
        println!("drivers (from the servers' open fds): {}", drivers.join(", "));
    }
    let mut accs: Vec<Acc> = servers.iter().map(|_| Acc::default()).collect();
    let mut lg = HttpLoad::new(config.kind, config.rate, config.conns).expect("mio poll");
    let mut tidx = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        match lg.add_target(&s.name, s.addr, config.conns) {
            Ok(t) => tidx.push(t),
            Err(e) => {
                accs[i].failed = Some(format!("connect: {e}"));
                tidx.push(usize::MAX);
            }
        }
    }
    let cycles = measure(opts, &mut servers, &mut lg, &tidx, &mut accs, rng);
    drop(lg);
    for (i, s) in servers.iter().enumerate() {
        accs[i].peak_rss = procfs::peak_rss_bytes(s.pid).unwrap_or(0);
        if let (Some(secs), None) = (opts.wrk_seconds, &accs[i].failed) {
            accs[i].wrk = Some(wrk::run(s.addr, s.pid, config, secs));
        }
        if let (Some(secs), None) = (opts.h2load_seconds, &accs[i].failed) {
            accs[i].h2 = h2load::run(s.addr, s.pid, config, secs);
        }
    }
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    drop(servers);
    report(cycles, &names, &accs, &startup_failures, opts.wrk_seconds.is_some())
}

/// The warm-up cycle, then measured cycles until `opts.seconds` (at least 6); returns how many.
fn measure(opts: &Opts, servers: &mut [Server], lg: &mut HttpLoad, tidx: &[usize], accs: &mut [Acc], rng: &mut Rng) -> usize {
    let fail = |accs: &mut [Acc], lg: &mut HttpLoad, i: usize, e: String| {
        eprintln!("harness: {} FAILED: {e}; excluded from the rest of this configuration", lg.targets[tidx[i]].name);
        accs[i].failed = Some(e);
        lg.drop_target(tidx[i]);
    };
    let mut order: Vec<usize> = (0..servers.len()).collect();
    for &i in &order {
        if accs[i].failed.is_none() {
            if let Err(e) = lg.run_window(tidx[i], opts.window, &mut Hist::new(), DRAIN_TIMEOUT) {
                fail(accs, lg, i, e.to_string());
            }
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
            if let Err(e) = window(opts, &mut servers[i], lg, tidx[i], &mut accs[i]) {
                let died = if servers[i].alive() { "" } else { " (server process died)" };
                fail(accs, lg, i, format!("{e}{died}"));
                accs[i].per_cycle.push(f64::NAN);
            }
        }
        cycles += 1;
    }
    cycles
}

/// One measured window of server `s`, added to `a`.
fn window(opts: &Opts, s: &mut Server, lg: &mut HttpLoad, t: usize, a: &mut Acc) -> std::io::Result<()> {
    let (u0, s0) = procfs::user_sys_ticks(s.pid).unwrap_or((0, 0));
    let c0 = procfs::cpu_ns(s.pid).unwrap_or(0);
    let w = lg.run_window(t, opts.window, &mut a.hist, DRAIN_TIMEOUT)?;
    let c1 = procfs::cpu_ns(s.pid).unwrap_or(0);
    let (u1, s1) = procfs::user_sys_ticks(s.pid).unwrap_or((0, 0));
    // A server that died right after answering: its CPU clock reads as 0.
    if c1 < c0 || !s.alive() {
        return Err(std::io::Error::other("server process died (its CPU time could not be read after the window)"));
    }
    a.cpu_ns += c1 - c0;
    a.user_ticks += u1.saturating_sub(u0);
    a.sys_ticks += s1.saturating_sub(s0);
    a.reqs += w.total;
    a.reqs_in_window += w.in_window;
    a.busy += w.dur;
    a.per_cycle.push((c1 - c0) as f64 / w.total.max(1) as f64);
    Ok(())
}

fn ratio_vs(accs: &[Acc], names: &[String], i: usize) -> Option<(f64, f64, f64)> {
    let r = names.iter().position(|n| n == REFERENCE)?;
    let v: Vec<f64> = accs[i].per_cycle.iter().zip(&accs[r].per_cycle).map(|(a, b)| a / b).collect();
    median_ci(&v)
}

fn report(cycles: usize, names: &[String], accs: &[Acc], startup_failures: &[(String, String)], wrk: bool) -> bool {
    println!(
        "{cycles} cycles; CPU = server process CPU time per request; ratio = median over cycles of per-cycle ratio [95% CI of the median]"
    );
    let has_ref = names.iter().any(|n| n == REFERENCE);
    let mut header = format!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "server", "req/s", "p50(us)", "p99(us)", "p99.9", "CPU/req", "user/req", "sys/req", "RSS(MiB)"
    );
    if has_ref {
        header.push_str(&format!(" {:>22}", format!("vs {REFERENCE}")));
    }
    if wrk {
        header.push_str(&format!(" {:>9} {:>8} {:>9}", "wrk req/s", "wrk p99", "wrk CPU/r"));
    }
    println!("{header}");
    let mut ok = true;
    for (i, a) in accs.iter().enumerate() {
        let name = &names[i];
        if a.reqs == 0 {
            println!("{name:<14} FAILED: {}", a.failed.as_deref().unwrap_or("no requests"));
            ok = false;
            continue;
        }
        let mut line = row(a);
        if has_ref {
            line.push_str(&format!(" {:>22}", fmt_ratio(ratio_vs(accs, names, i))));
        }
        if let Some(w) = &a.wrk {
            line.push_str(&wrk::cells(w));
        }
        println!("{name:<14} {line}");
        if let Some(e) = &a.failed {
            println!("{:<14} FAILED part-way (stats above cover the windows before): {e}", "");
            ok = false;
        }
    }
    for (n, e) in startup_failures {
        println!("{n:<14} FAILED to start: {e}");
        ok = false;
    }
    if accs.iter().any(|a| a.h2.is_some()) {
        println!("HTTP/2 (h2load, prior knowledge, same connections, 1 stream each; one run per server, not interleaved):");
        println!("{:<14} {:>9} {:>9} {:>9} {:>9} {:>7}", "server", "req/s", "mean(us)", "CPU/req", "done", "failed");
        for (i, a) in accs.iter().enumerate() {
            if let Some(h) = &a.h2 {
                println!("{}", h2load::line(&names[i], h));
                ok &= matches!(h, Ok(r) if r.failed == 0) || h.is_err();
            }
        }
    }
    ok
}

/// The measured columns of one server.
fn row(a: &Acc) -> String {
    let cpu = a.cpu_ns as f64 / a.reqs as f64 / 1000.0;
    let ticks = (a.user_ticks + a.sys_ticks) as f64;
    let (user, sys) =
        if ticks > 0.0 { (cpu * a.user_ticks as f64 / ticks, cpu * a.sys_ticks as f64 / ticks) } else { (f64::NAN, f64::NAN) };
    let us = |ns: u64| ns as f64 / 1000.0;
    format!(
        "{:>8.0} {:>8.1} {:>8.1} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.1}",
        a.reqs_in_window as f64 / a.busy.as_secs_f64(),
        us(a.hist.quantile(0.5)),
        us(a.hist.quantile(0.99)),
        us(a.hist.quantile(0.999)),
        cpu,
        user,
        sys,
        a.peak_rss as f64 / (1 << 20) as f64,
    )
}

fn fmt_ratio(x: Option<(f64, f64, f64)>) -> String {
    match x {
        Some((m, lo, hi)) => format!("{m:.3} [{lo:.3},{hi:.3}]"),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, Kind};

    #[test]
    fn configs() {
        let v = Config::parse_list("get:50, post:50:4096,close:8,get:50@60000").unwrap();
        assert_eq!(v[0], Config { kind: Kind::Get, conns: 50, rate: None });
        assert_eq!(v[1], Config { kind: Kind::Post(4096), conns: 50, rate: None });
        assert_eq!(v[2], Config { kind: Kind::Close, conns: 8, rate: None });
        assert_eq!(v[3], Config { kind: Kind::Get, conns: 50, rate: Some(60000) });
        assert!(Config::parse("get:50@0").is_err());
        assert!(Config::parse("get:50@fast").is_err());
        assert!(Config::parse("post:50").is_err());
        assert!(Config::parse("get:0").is_err());
        assert!(Config::parse("put:5").is_err());
    }
}
