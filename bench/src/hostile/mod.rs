//! `harness --hostile`: what hostile or careless clients do to each server, one server at a
//! time (each started fresh per scenario, pinned to CPU 0; the clients run in the harness,
//! pinned to CPU 1). Four scenarios, one table each, servers as rows:
//!
//! - `fairness`: two flooding clients beside a 64-byte ping-pong ([`fairness`]);
//! - `nonreading`: server RSS per peer that sends and never reads ([`nonreading`]);
//! - `drain`: SIGTERM with `--drain-timeout` and stuck peers, ours only ([`drain`]);
//! - `burst`: thousands of connects at once, time to the first echo ([`burst`]).

pub mod burst;
pub mod drain;
pub mod fairness;
pub mod nonreading;

use crate::server::{Server, Spec};
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scenario {
    Fairness,
    NonReading,
    Drain,
    Burst,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [Scenario::Fairness, Scenario::NonReading, Scenario::Drain, Scenario::Burst];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fairness => "fairness",
            Scenario::NonReading => "nonreading",
            Scenario::Drain => "drain",
            Scenario::Burst => "burst",
        }
    }

    /// A comma-separated list of scenario names, in the order given.
    pub fn parse_list(list: &str) -> Result<Vec<Scenario>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Scenario::ALL
                    .into_iter()
                    .find(|c| c.name() == s)
                    .ok_or_else(|| format!("unknown scenario {s:?} (one of {})", Scenario::ALL.map(Scenario::name).join(", ")))
            })
            .collect()
    }
}

pub struct Opts {
    pub servers: Vec<Spec>,
    pub scenarios: Vec<Scenario>,
    /// Seconds of ping-pong beside the flood.
    pub fair_seconds: f64,
    /// Non-reading peers.
    pub peers: usize,
    /// Bytes each non-reading peer sends at most.
    pub peer_bytes: u64,
    /// A peer stops once the server has taken nothing from it for this long.
    pub stall: Duration,
    /// `--drain-timeout` given to ours in the drain scenario, in seconds.
    pub drain_timeout: f64,
    pub drain_peers: usize,
    pub burst_conns: usize,
    pub burst_threads: usize,
}

/// A row's outcome: measured, failed, or not applicable to this server (None).
type Outcome<T> = Option<Result<T, String>>;

struct Row<T> {
    name: String,
    outcome: Outcome<T>,
}

/// Runs every selected scenario on every server; false if any server failed.
pub fn run(opts: &Opts) -> bool {
    let names: Vec<&str> = opts.servers.iter().map(|s| s.name.as_str()).collect();
    println!("hostile clients: servers {} one at a time, each fresh per scenario, pinned to CPU 0; clients on CPU 1", names.join(", "));
    let mut ok = true;
    for &sc in &opts.scenarios {
        ok &= match sc {
            Scenario::Fairness => run_fairness(opts),
            Scenario::NonReading => run_nonreading(opts),
            Scenario::Drain => run_drain(opts),
            Scenario::Burst => run_burst(opts),
        };
    }
    ok
}

/// Starts each server in turn with `extra(spec)` added to its arguments (None: the scenario does
/// not apply to it), runs `f` on it, and kills it. Prints which driver each ours variant ran.
fn each_server<T>(
    opts: &Opts,
    extra: impl Fn(&Spec) -> Option<Vec<String>>,
    mut f: impl FnMut(&mut Server) -> Result<T, String>,
) -> Vec<Row<T>> {
    let mut rows = Vec::new();
    let mut drivers = Vec::new();
    for spec in &opts.servers {
        let outcome = extra(spec).map(|args| {
            let mut s = Server::start(spec, &args, "0").map_err(|e| format!("start: {e}"))?;
            if let Some(b) = &s.backend_seen {
                drivers.push(format!("{} = {b}", s.name));
            }
            let r = f(&mut s);
            let died = !s.alive();
            s.kill();
            r.map_err(|e| if died { format!("{e} (server process gone)") } else { e })
        });
        if let Some(Err(e)) = &outcome {
            eprintln!("harness: {} FAILED: {e}", spec.name);
        }
        rows.push(Row { name: spec.name.clone(), outcome });
    }
    if !drivers.is_empty() {
        println!("drivers (from the servers' open fds): {}", drivers.join(", "));
    }
    rows
}

/// Prints each row with `fmt`, failures and n/a as such; false if any row failed.
fn print_rows<T>(rows: &[Row<T>], na: &str, fmt: impl Fn(&T) -> String) -> bool {
    let mut ok = true;
    for r in rows {
        match &r.outcome {
            Some(Ok(v)) => println!("{:<12} {}", r.name, fmt(v)),
            Some(Err(e)) => {
                println!("{:<12} FAILED: {e}", r.name);
                ok = false;
            }
            None => println!("{:<12} {na}", r.name),
        }
    }
    ok
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn run_fairness(opts: &Opts) -> bool {
    println!(
        "\n=== fairness: 2 clients flood (64 KiB writes, echo read concurrently) beside a 64 B ping-pong, {} s ===",
        opts.fair_seconds
    );
    let rows = each_server(opts, |_| Some(vec![]), |s| fairness::run(s.addr, opts.fair_seconds));
    println!("(alone = the same ping-pong for 1 s before the flood; flood = echoed MiB/s of each flooder during the ping-pong)");
    println!(
        "{:<12} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>16}",
        "server", "alone p99", "p50(ms)", "p99(ms)", "max(ms)", "pings", "flood MiB/s", "each"
    );
    print_rows(&rows, "", |f| {
        let h = &f.flooded;
        format!(
            "{:>8.3}ms {:>9.3} {:>9.3} {:>9.1} {:>9} {:>11.0} {:>16}",
            ms(f.alone.quantile(0.99)),
            ms(h.quantile(0.5)),
            ms(h.quantile(0.99)),
            ms(h.max()),
            h.count(),
            f.flood_mib_s.iter().sum::<f64>(),
            f.flood_mib_s.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" + "),
        )
    })
}

fn run_nonreading(opts: &Opts) -> bool {
    println!(
        "\n=== non-reading peers: {} peers each send up to {} MiB (until the server takes nothing for {} s), read nothing ===",
        opts.peers,
        opts.peer_bytes >> 20,
        opts.stall.as_secs_f64()
    );
    let rows = each_server(opts, |_| Some(vec![]), |s| nonreading::run(s.addr, s.pid, opts.peers, opts.peer_bytes, opts.stall));
    println!("(sent = bytes each peer's socket took, mostly held in kernel socket buffers; RSS = the server's VmRSS after the");
    println!(" peers connected and after they stalled; growth = user-space memory the server holds per peer)");
    println!(
        "{:<12} {:>6} {:>15} {:>15} {:>15} {:>17}",
        "server", "peers", "sent/peer(KiB)", "RSS before(MiB)", "RSS after(MiB)", "growth/peer(KiB)"
    );
    print_rows(&rows, "", |g| {
        format!(
            "{:>6} {:>15.0} {:>15.1} {:>15.1} {:>17.0}",
            g.peers,
            g.mean_sent / 1024.0,
            g.rss_before as f64 / (1 << 20) as f64,
            g.rss_after as f64 / (1 << 20) as f64,
            g.kib_per_peer()
        )
    })
}

fn run_drain(opts: &Opts) -> bool {
    let d = opts.drain_timeout;
    println!(
        "\n=== drain overshoot: --drain-timeout {d}, {} peers that stopped reading (echo backed up), then SIGTERM ===",
        opts.drain_peers
    );
    // Only ours (and --base) have a drain: the servers whose driver is checked.
    let extra = |spec: &Spec| spec.backend.map(|_| vec!["--drain-timeout".to_string(), d.to_string()]);
    let rows = each_server(opts, extra, |s| drain::run(s, opts.drain_peers, opts.peer_bytes, opts.stall));
    println!("(exit = SIGTERM to process exit; overshoot = exit - {d} s)");
    println!("{:<12} {:>6} {:>15} {:>9} {:>13} {:>22}", "server", "peers", "sent/peer(KiB)", "exit(s)", "overshoot(s)", "status");
    print_rows(&rows, "n/a (no drain: SIGTERM kills it)", |r| {
        let exit = r.exit_after.as_secs_f64();
        format!("{:>6} {:>15.0} {:>9.3} {:>+13.3} {:>22}", r.peers, r.mean_sent / 1024.0, exit, exit - d, r.status)
    })
}

fn run_burst(opts: &Opts) -> bool {
    println!(
        "\n=== accept burst: {} clients connect at once ({} threads), each sends 64 B and waits for the echo ===",
        opts.burst_conns, opts.burst_threads
    );
    let rows = each_server(opts, |_| Some(vec![]), |s| Ok(burst::run(s.addr, opts.burst_conns, opts.burst_threads)));
    println!("(time from each client's connect() to its whole echo; >1s = SYN or ACK dropped at a full backlog and retried)");
    println!("(backlog = the listening socket's accept backlog, from `ss -ltn`; the kernel caps it at somaxconn)");
    println!(
        "{:<12} {:>7} {:>6} {:>9} {:>9} {:>9} {:>6} {:>8} {:>9}",
        "server", "backlog", "echoed", "p50(ms)", "p99(ms)", "max(ms)", ">1s", "failed", "wall(s)"
    );
    let mut ok = print_rows(&rows, "", |b| {
        let h = &b.hist;
        format!(
            "{:>7} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>8} {:>9.2}",
            b.backlog.map_or("-".into(), |v| v.to_string()),
            h.count(),
            ms(h.quantile(0.5)),
            ms(h.quantile(0.99)),
            ms(h.max()),
            b.over_1s,
            b.failed,
            b.wall.as_secs_f64()
        )
    });
    for r in &rows {
        if let Some(Ok(b)) = &r.outcome {
            if let Some(e) = &b.first_error {
                println!("{:<12} {} failed; first error: {e}", r.name, b.failed);
                ok = false;
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::Scenario;

    #[test]
    fn scenario_lists() {
        assert_eq!(Scenario::parse_list("burst, fairness").unwrap(), vec![Scenario::Burst, Scenario::Fairness]);
        assert_eq!(Scenario::parse_list("fairness,nonreading,drain,burst").unwrap(), Scenario::ALL.to_vec());
        assert!(Scenario::parse_list("fairness,bogus").is_err());
    }
}
