//! The echo example as the hostile clients' target: the binary `EVENT_ECHO` names (CI points it
//! at the release build), on `127.0.0.1:0`, with the driver `EVENT_BACKEND` names, watched
//! through `/proc` (resident memory, open descriptors, state) and killed when dropped.

use std::io::BufRead;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sys;

/// A running echo server.
pub struct EchoServer {
    child: Child,
    /// The address from the first line the server printed.
    pub addr: std::net::SocketAddr,
    /// That first line.
    pub banner: String,
    /// The driver the tests asked for (`EVENT_BACKEND`), or "auto".
    pub backend: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl EchoServer {
    /// Starts `$EVENT_ECHO --addr 127.0.0.1:0 [--backend $EVENT_BACKEND] FLAGS`, or returns
    /// `None` after printing why the test `name` is skipped when `EVENT_ECHO` is not set (the
    /// hostile clients need the release build: `cargo build --release --example echo`).
    pub fn start(name: &str, flags: &[&str]) -> Option<EchoServer> {
        let Some(bin) = std::env::var_os("EVENT_ECHO") else {
            println!(
                "{name}: skipped: EVENT_ECHO is not set (cargo build --release --example echo; \
                 EVENT_ECHO=target/release/examples/echo)"
            );
            return None;
        };
        let backend = std::env::var("EVENT_BACKEND").unwrap_or_else(|_| "auto".into());
        let mut cmd = Command::new(&bin);
        cmd.args(["--addr", "127.0.0.1:0"]);
        if backend != "auto" {
            cmd.args(["--backend", &backend]);
        }
        let mut child = cmd
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.to_string_lossy()));
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let _ = out.read_line(&mut banner);
        let stderr = drain_lines(child.stderr.take().unwrap());
        let addr = banner
            .split_whitespace()
            .find_map(|w| w.parse::<std::net::SocketAddr>().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            panic!(
                "echo printed no address: {banner:?}; stderr: {}",
                stderr.lock().unwrap()
            );
        };
        if backend != "auto" {
            assert!(
                banner.contains(&format!("backend: {backend}")),
                "asked for {backend}, the server says {banner:?}"
            );
        }
        let stdout = drain_lines(out);
        Some(EchoServer {
            child,
            addr,
            banner: banner.trim_end().to_string(),
            backend,
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// Open descriptors.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("read /proc/PID/fd")
            .count()
    }

    /// The process state letter from /proc/PID/stat ('R', 'S', 'T' for stopped...).
    pub fn state(&self) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
    }

    pub fn signal(&self, sig: i32) {
        sys::kill(self.pid(), sig).expect("kill");
    }

    /// Waits up to `limit` for the server to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the server is still running (it has not exited).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// What the server printed after its first line, so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The descriptor count once it has stopped changing (unchanged over 200 ms; at most 5 s).
    pub fn steady_fd_count(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = self.fd_count();
        let mut since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.fd_count();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= Duration::from_millis(200) {
                break;
            }
        }
        last
    }

    /// Waits up to `limit` for the descriptor count to come down to `baseline`; returns the
    /// last count seen.
    pub fn wait_fd_count(&self, baseline: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.fd_count();
            if now <= baseline || Instant::now() >= deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory once it has stopped growing (unchanged within 64 KiB over 300 ms; at
    /// most `limit`).
    pub fn steady_rss_kib(&self, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        let mut last = self.rss_kib();
        let mut since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.rss_kib();
            if now.abs_diff(last) > 64 {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= Duration::from_millis(300) {
                return now;
            }
        }
        last
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects a pipe's lines on a thread (so the child never blocks on a full pipe).
fn drain_lines<R: std::io::Read + Send + 'static>(pipe: R) -> Arc<Mutex<String>> {
    let sink = Arc::new(Mutex::new(String::new()));
    let out = sink.clone();
    std::thread::spawn(move || {
        let mut pipe = std::io::BufReader::new(pipe);
        let mut line = String::new();
        while pipe.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            out.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    sink
}
