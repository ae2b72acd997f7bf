//! The echo examples as the hostile clients' target: the binary `EVENT_ECHO` names (CI points it
//! at the release build) on `127.0.0.1:0`, or its siblings `udp_echo` (`127.0.0.1:0`) and
//! `unix_echo` (a socket path), with the driver `EVENT_BACKEND` names, watched through `/proc`
//! (resident memory, open descriptors, state) and killed when dropped.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sys;

/// A running echo server; `A` is where it serves (an IP address, or a Unix socket's path).
pub struct EchoServer<A = SocketAddr> {
    child: Child,
    /// The address from the first line the server printed (the path it was given, for Unix).
    pub addr: A,
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
        EchoServer::start_inet(name, "echo", flags)
    }

    /// The same with the UDP echo example (`udp_echo`, beside `$EVENT_ECHO`).
    pub fn start_udp(name: &str, flags: &[&str]) -> Option<EchoServer> {
        EchoServer::start_inet(name, "udp_echo", flags)
    }

    fn start_inet(name: &str, example: &str, flags: &[&str]) -> Option<EchoServer> {
        let server = launch(name, example, &["--addr", "127.0.0.1:0"], flags)?;
        let addr = server
            .banner
            .split_whitespace()
            .find_map(|w| w.trim_end_matches(',').parse::<SocketAddr>().ok());
        match addr {
            Some(addr) => Some(server.serving(addr)),
            None => {
                let why = format!("{example} printed no address: {:?}", server.banner);
                server.fail(why)
            }
        }
    }
}

impl EchoServer<PathBuf> {
    /// Starts the Unix-domain echo example (`unix_echo`, beside `$EVENT_ECHO`) listening on the
    /// socket file `path`, as [`EchoServer::start`] does.
    pub fn start_unix(name: &str, path: &Path, flags: &[&str]) -> Option<EchoServer<PathBuf>> {
        let path_arg = path.to_str().expect("a UTF-8 socket path");
        let server = launch(name, "unix_echo", &["--path", path_arg], flags)?;
        if !server.banner.contains(path_arg) {
            let why = format!(
                "unix_echo does not say it listens on {path_arg}: {:?}",
                server.banner
            );
            server.fail(why)
        }
        Some(server.serving(path.to_path_buf()))
    }
}

/// The example binary `example`: `$EVENT_ECHO` itself for "echo", else the file of that name
/// beside it (`.ci/run` builds them together); `None` when `EVENT_ECHO` is not set.
fn example_binary(example: &str) -> Option<PathBuf> {
    let echo = PathBuf::from(std::env::var_os("EVENT_ECHO")?);
    if example == "echo" {
        return Some(echo);
    }
    let bin = echo.with_file_name(example);
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release --example {example}",
        bin.display()
    );
    Some(bin)
}

/// Starts `BIN ADDR_ARGS [--backend $EVENT_BACKEND] FLAGS` and reads its first line (checking
/// it names the driver asked for); `None` (the test `name` skipped) when `EVENT_ECHO` is unset.
fn launch(name: &str, example: &str, addr_args: &[&str], flags: &[&str]) -> Option<Launched> {
    let Some(bin) = example_binary(example) else {
        println!(
            "{name}: skipped: EVENT_ECHO is not set (cargo build --release --example {example}; \
             EVENT_ECHO=target/release/examples/echo)"
        );
        return None;
    };
    let backend = std::env::var("EVENT_BACKEND").unwrap_or_else(|_| "auto".into());
    let mut cmd = Command::new(&bin);
    cmd.args(addr_args);
    if backend != "auto" {
        cmd.args(["--backend", &backend]);
    }
    let mut child = cmd
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let _ = out.read_line(&mut banner);
    let stderr = drain_lines(child.stderr.take().unwrap());
    let launched = Launched {
        child,
        banner: banner.trim_end().to_string(),
        backend,
        stdout: drain_lines(out),
        stderr,
    };
    if launched.backend != "auto" && !banner.contains(&format!("backend: {}", launched.backend)) {
        let why = format!(
            "asked {example} for {}, it says {banner:?}",
            launched.backend
        );
        launched.fail(why)
    }
    Some(launched)
}

/// A started server whose address is still to be checked (a failed check kills it).
struct Launched {
    child: Child,
    banner: String,
    backend: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Launched {
    fn fail(mut self, why: String) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        panic!("{why}; stderr: {}", self.stderr.lock().unwrap());
    }

    fn serving<A>(self, addr: A) -> EchoServer<A> {
        EchoServer {
            child: self.child,
            addr,
            banner: self.banner,
            backend: self.backend,
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}

impl<A> EchoServer<A> {
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

impl<A> Drop for EchoServer<A> {
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
