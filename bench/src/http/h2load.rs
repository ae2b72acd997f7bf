//! `--h2load`: HTTP/2 (prior knowledge, h2c) cross-check, one `h2load` run per server after
//! the interleaved windows of a `get` or `post` configuration, pinned to CPU 1: N connections,
//! one stream at a time on each (`-m 1`), the same requests. Not interleaved (each server's
//! few seconds of its own, so drift is not cancelled): requests/s, mean request time, and
//! server CPU per request over the run (process CPU clock / requests done).

use super::client::Kind;
use super::Config;
use crate::procfs;
use std::net::SocketAddr;
use std::process::Command;

pub struct Run {
    pub rps: f64,
    pub mean_us: Option<f64>,
    pub cpu_per_req_us: f64,
    pub done: u64,
    pub failed: u64,
}

/// Runs h2load against `addr` for `secs` seconds; None for `close` configurations.
pub fn run(addr: SocketAddr, pid: i32, config: &Config, secs: f64) -> Option<Result<Run, String>> {
    let mut args: Vec<String> = ["-c", "1", "h2load", "-t1", "-m1"].iter().map(|s| s.to_string()).collect();
    args.push(format!("-c{}", config.conns));
    args.push(format!("-D{}", secs.ceil().max(1.0) as u64));
    let body = std::env::temp_dir().join(format!("event-bench-h2load-{}.body", std::process::id()));
    let path = match config.kind {
        Kind::Close => return None,
        Kind::Get => "/hello",
        Kind::Post(n) => {
            if let Err(e) = std::fs::write(&body, vec![b'x'; n]) {
                return Some(Err(format!("h2load body: {e}")));
            }
            args.extend(["-d".to_string(), body.display().to_string()]);
            "/echo"
        }
    };
    args.push(format!("http://{addr}{path}"));
    let c0 = procfs::cpu_ns(pid).unwrap_or(0);
    let out = Command::new("taskset").args(&args).output();
    let c1 = procfs::cpu_ns(pid).unwrap_or(0);
    let _ = std::fs::remove_file(&body);
    Some(match out {
        Err(e) => Err(format!("h2load: {e} (Debian package nghttp2-client)")),
        Ok(o) if !o.status.success() => Err(format!("h2load exited with {}: {}", o.status, String::from_utf8_lossy(&o.stderr).trim())),
        Ok(o) => parse(&String::from_utf8_lossy(&o.stdout), c1.saturating_sub(c0)),
    })
}

fn parse(text: &str, cpu_ns: u64) -> Result<Run, String> {
    let mut rps = None;
    let mut counts = None;
    let mut mean_us = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("finished in ") {
            rps = rest.split(", ").nth(1).and_then(|r| r.strip_suffix(" req/s")).and_then(|r| r.parse::<f64>().ok());
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            let field = |name: &str| rest.split(", ").find_map(|f| f.strip_suffix(name)?.trim().parse::<u64>().ok());
            counts = field(" done").zip(field(" failed"));
        } else if let Some(rest) = line.strip_prefix("time for request:") {
            mean_us = rest.split_whitespace().nth(2).and_then(duration_us);
        }
    }
    let (Some(rps), Some((done, failed))) = (rps, counts) else {
        return Err(format!("h2load output not understood: {}", text.lines().take(3).collect::<Vec<_>>().join(" | ")));
    };
    Ok(Run { rps, mean_us, cpu_per_req_us: cpu_ns as f64 / done.max(1) as f64 / 1000.0, done, failed })
}

/// "123.45us", "1.23ms", "2.00s" in microseconds.
fn duration_us(s: &str) -> Option<f64> {
    let (num, scale) = match s {
        _ if s.ends_with("us") => (&s[..s.len() - 2], 1.0),
        _ if s.ends_with("ms") => (&s[..s.len() - 2], 1e3),
        _ if s.ends_with('s') => (&s[..s.len() - 1], 1e6),
        _ => return None,
    };
    num.parse::<f64>().ok().map(|x| x * scale)
}

/// One line of the HTTP/2 table for server `name`.
pub fn line(name: &str, r: &Result<Run, String>) -> String {
    match r {
        Ok(h) => format!(
            "{name:<14} {:>9.0} {:>9} {:>9.2} {:>9} {:>7}",
            h.rps,
            h.mean_us.map_or("-".to_string(), |v| format!("{v:.0}")),
            h.cpu_per_req_us,
            h.done,
            h.failed
        ),
        Err(e) => format!("{name:<14} h2load unavailable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_h2load_output() {
        let text = "finished in 3.00s, 20000.00 req/s, 1.00MB/s\nrequests: 60000 total, 60050 started, 60000 done, 60000 succeeded, 0 failed, 0 errored, 0 timeout\ntime for request:      100us      2.00ms    250us   10us    90.00%\n";
        let r = super::parse(text, 60_000_000).unwrap();
        assert_eq!((r.rps, r.done, r.failed), (20000.0, 60000, 0));
        assert_eq!(r.mean_us, Some(250.0));
        assert_eq!(r.cpu_per_req_us, 1.0);
    }
}
