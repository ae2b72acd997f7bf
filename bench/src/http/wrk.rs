//! `--wrk`: one wrk run per server after the interleaved windows, pinned to CPU 1 (one wrk
//! thread, the configuration's connections), as a cross-check of requests/s from a load
//! generator that is not ours. Not interleaved: each server's figure comes from its own few
//! seconds, so drift between them is not cancelled. Server CPU per request is its process CPU
//! clock over the run / wrk's request count (wrk stops mid-request at the end: a little off).

use super::client::Kind;
use super::Config;
use crate::procfs;
use std::net::SocketAddr;
use std::process::Command;

pub struct Run {
    pub rps: f64,
    pub p99_us: Option<f64>,
    pub cpu_per_req_us: f64,
    /// wrk's "Non-2xx or 3xx responses" and "Socket errors" lines, if any.
    pub errors: Option<String>,
}

/// Runs wrk against `addr` for `secs` seconds with `config`'s requests and connections.
pub fn run(addr: SocketAddr, pid: i32, config: &Config, secs: f64) -> Result<Run, String> {
    let mut args: Vec<String> = ["-c", "1", "wrk", "-t1", "--latency"].iter().map(|s| s.to_string()).collect();
    args.push(format!("-c{}", config.conns));
    args.push(format!("-d{}s", secs.ceil().max(1.0) as u64));
    let script = std::env::temp_dir().join(format!("event-bench-wrk-{}.lua", std::process::id()));
    let path = match config.kind {
        Kind::Get => "/hello",
        Kind::Close => {
            args.extend(["-H".to_string(), "Connection: close".to_string()]);
            "/hello"
        }
        Kind::Post(n) => {
            let lua = format!("wrk.method = \"POST\"\nwrk.body = string.rep(\"x\", {n})\n");
            std::fs::write(&script, lua).map_err(|e| format!("wrk script: {e}"))?;
            args.extend(["-s".to_string(), script.display().to_string()]);
            "/echo"
        }
    };
    args.push(format!("http://{addr}{path}"));
    let c0 = procfs::cpu_ns(pid).unwrap_or(0);
    let out = Command::new("taskset").args(&args).output();
    let c1 = procfs::cpu_ns(pid).unwrap_or(0);
    let _ = std::fs::remove_file(&script);
    let out = out.map_err(|e| format!("wrk: {e} (install the Debian package `wrk`)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    parse(&text, c1.saturating_sub(c0))
}

fn parse(text: &str, cpu_ns: u64) -> Result<Run, String> {
    let mut rps = None;
    let mut reqs = None;
    let mut p99_us = None;
    let mut errors = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = line.strip_prefix("99%") {
            p99_us = duration_us(v.trim());
        } else if line.contains(" requests in ") {
            reqs = line.split_whitespace().next().and_then(|n| n.parse::<u64>().ok());
        } else if line.starts_with("Non-2xx") || line.starts_with("Socket errors") {
            errors.push(line.to_string());
        }
    }
    let (Some(rps), Some(reqs)) = (rps, reqs) else {
        return Err(format!("wrk output not understood: {}", text.lines().take(3).collect::<Vec<_>>().join(" | ")));
    };
    let errors = if errors.is_empty() { None } else { Some(errors.join("; ")) };
    Ok(Run { rps, p99_us, cpu_per_req_us: cpu_ns as f64 / reqs.max(1) as f64 / 1000.0, errors })
}

/// "123.45us", "1.23ms", "2.00s" in microseconds.
fn duration_us(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|x| x * scale)
}

/// The three wrk cells of a table row (and wrk's errors on the same line, if any).
pub fn cells(r: &Result<Run, String>) -> String {
    match r {
        Ok(w) => {
            let p99 = w.p99_us.map_or("-".to_string(), |v| format!("{v:.0}"));
            let mut s = format!(" {:>9.0} {:>8} {:>9.2}", w.rps, p99, w.cpu_per_req_us);
            if let Some(e) = &w.errors {
                s.push_str(&format!("  wrk: {e}"));
            }
            s
        }
        Err(e) => format!("  wrk unavailable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_wrk_output() {
        let text = "Running 2s test @ http://127.0.0.1:1/hello\n  1 threads and 50 connections\n  Latency Distribution\n     50%  300.00us\n     99%    1.50ms\n  24000 requests in 2.00s, 2.00MB read\nRequests/sec:  12000.00\nTransfer/sec:      1.00MB\n";
        let r = super::parse(text, 24_000_000).unwrap();
        assert_eq!(r.rps, 12000.0);
        assert_eq!(r.p99_us, Some(1500.0));
        assert_eq!(r.cpu_per_req_us, 1.0);
        assert!(r.errors.is_none());
    }
}
