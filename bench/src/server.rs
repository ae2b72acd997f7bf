//! Server child processes: spawning pinned to CPUs, tracking them so they are
//! killed on exit, on a signal, on a panic (and, via PR_SET_PDEATHSIG, when the
//! harness is SIGKILLed), and waiting until one accepts connections.
//!
//! Holds the harness's process-level `unsafe` (signal handlers, `pre_exec`,
//! `kill`) so the binaries need none.

use crate::procfs;
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

const MAX_CHILDREN: usize = 64;
static CHILDREN: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];

fn register_child(pid: i32) {
    for slot in CHILDREN.iter() {
        if slot.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return;
        }
    }
    eprintln!("harness: too many children to track");
}

pub fn unregister_child(pid: i32) {
    for slot in CHILDREN.iter() {
        let _ = slot.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// Async-signal-safe: SIGKILL every tracked child.
pub fn kill_all_children() {
    for slot in CHILDREN.iter() {
        let pid = slot.swap(0, Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill(2) takes no pointers; async-signal-safe.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    kill_all_children();
    let msg = b"\nharness: interrupted, servers killed\n";
    // SAFETY: write(2) reads `msg.len()` bytes from a live static buffer; write and _exit
    // are async-signal-safe.
    unsafe {
        libc::write(2, msg.as_ptr() as *const _, msg.len());
        libc::_exit(128 + sig);
    }
}

pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only calls async-signal-safe
        // functions (atomic swaps, kill, write, _exit).
        unsafe { libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}

/// Kills tracked children on scope exit, including panics.
pub struct KillGuard;
impl Drop for KillGuard {
    fn drop(&mut self) {
        kill_all_children();
    }
}

/// Spawns `taskset -c CPUS prog args...` (CPUS: a taskset list such as "0" or
/// "0-1") with `env` added to our environment; the child dies with us (PDEATHSIG).
pub fn spawn_pinned(cpu: Option<&str>, prog: &Path, args: &[String], env: &[(String, String)], quiet: bool) -> std::io::Result<Child> {
    let mut cmd = match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c).arg(prog);
            cmd
        }
        None => Command::new(prog),
    };
    cmd.args(args).stdin(Stdio::null());
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if quiet {
        cmd.stdout(Stdio::null());
    }
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() == 1 {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    register_child(child.id() as i32);
    Ok(child)
}

/// What the servers of a run serve: TCP stream echo (the default), UDP datagram echo, or stream
/// echo over a Unix-domain socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
    Unix,
}

/// Where one started server is reached.
#[derive(Clone, Debug)]
pub enum Endpoint {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
}

pub struct Server {
    pub name: String,
    pub child: Child,
    pub pid: i32,
    /// The TCP or UDP address (for a Unix server, an unused address with a free port number).
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    /// For servers with an expected backend: what their open fds show, e.g. "io_uring (1 ring fd)".
    pub backend_seen: Option<String>,
}

impl Server {
    pub fn start(spec: &Spec, extra: &[String], cpus: &str) -> Result<Server, String> {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let endpoint = match spec.transport {
            Transport::Tcp => Endpoint::Tcp(addr),
            Transport::Udp => Endpoint::Udp(addr),
            // Unique per harness and port; removed when the server is dropped.
            Transport::Unix => Endpoint::Unix(std::env::temp_dir().join(format!("event-bench-{}-{port}.sock", std::process::id()))),
        };
        // Every server takes `--addr` (UDP servers also their spec's `--udp`), a Unix one `--path`.
        let mut args = match &endpoint {
            Endpoint::Unix(path) => vec!["--path".to_string(), path.display().to_string()],
            _ => vec!["--addr".to_string(), addr.to_string()],
        };
        args.extend(spec.args.iter().cloned());
        args.extend(extra.iter().cloned());
        let child =
            spawn_pinned(Some(cpus), &spec.path, &args, &spec.env, true).map_err(|e| format!("spawn {}: {e}", spec.path.display()))?;
        let pid = child.id() as i32;
        let mut s = Server { name: spec.name.clone(), child, pid, addr, endpoint, backend_seen: None };
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = s.child.try_wait() {
                unregister_child(pid);
                return Err(format!(
                    "exited at startup ({st}){}",
                    if spec.env.is_empty() { String::new() } else { format!(" with {}", env_str(&spec.env)) }
                ));
            }
            if s.serving(spec.listeners) {
                std::thread::sleep(Duration::from_millis(50));
                if let Some(want) = spec.backend {
                    s.check_backend(want, spec.listeners)?;
                }
                return Ok(s);
            }
            if t0.elapsed() > Duration::from_secs(10) {
                s.kill();
                return Err("not accepting connections after 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers on its endpoint yet.
    fn serving(&self, listeners: usize) -> bool {
        match &self.endpoint {
            // With SO_REUSEPORT (ours --threads N) every loop has its own
            // listener: wait for all of them, or the first-bound loop would get
            // every connection.
            Endpoint::Tcp(addr) => {
                procfs::listeners_on_port(addr.port()) >= listeners
                    && std::net::TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok()
            }
            Endpoint::Udp(addr) => udp_echoes(*addr),
            Endpoint::Unix(path) => UnixStream::connect(path).is_ok(),
        }
    }

    /// Checks the driver from the open fds: io_uring needs an `anon_inode:[io_uring]`
    /// fd per loop (`loops`), epoll none. The listeners are bound before the loops
    /// are built, so rings may appear a little after the port accepts: wait up to 1 s.
    /// A mismatch is a startup failure, since the row would be mislabelled.
    fn check_backend(&mut self, want: &str, loops: usize) -> Result<(), String> {
        let t0 = Instant::now();
        let rings = loop {
            let rings = procfs::anon_inode_count(self.pid, "io_uring");
            if want != "io_uring" || rings >= loops || t0.elapsed() > Duration::from_secs(1) {
                break rings;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let seen = if rings > 0 {
            format!("io_uring ({rings} ring fd{})", if rings > 1 { "s" } else { "" })
        } else {
            "epoll (no io_uring fd)".into()
        };
        let ok = if want == "io_uring" { rings >= loops } else { rings == 0 };
        if !ok {
            self.kill();
            return Err(format!("EVENT_BACKEND={want} but its open fds show {seen}"));
        }
        self.backend_seen = Some(seen);
        Ok(())
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        unregister_child(self.pid);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Endpoint::Unix(path) = &self.endpoint {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether a datagram sent to `addr` comes back within 200 ms (from a socket of its own, so
/// the load generator never sees the probe's echo).
fn udp_echoes(addr: SocketAddr) -> bool {
    let probe = b"event-bench probe";
    let Ok(sock) = std::net::UdpSocket::bind("127.0.0.1:0") else { return false };
    let mut buf = [0u8; 64];
    sock.connect(addr).is_ok()
        && sock.set_read_timeout(Some(Duration::from_millis(200))).is_ok()
        && sock.send(probe).is_ok()
        && matches!(sock.recv(&mut buf), Ok(n) if buf[..n] == probe[..])
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------- options

#[derive(Clone)]
pub struct Spec {
    pub name: String,
    pub path: PathBuf,
    pub args: Vec<String>,
    /// Environment added for this server (EVENT_BACKEND for the ours variants).
    pub env: Vec<(String, String)>,
    /// The driver the server must be running (ours variants only; checked from its fds).
    pub backend: Option<&'static str>,
    /// Listening sockets the server opens on its port (N for ours --threads N).
    pub listeners: usize,
    /// What it serves, hence how it is started and probed.
    pub transport: Transport,
}

pub fn env_str(env: &[(String, String)]) -> String {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// Sends `sig` to process `pid`; false if it could not be sent (e.g. no such process).
pub fn send_signal(pid: i32, sig: libc::c_int) -> bool {
    // SAFETY: kill(2) takes no pointers.
    unsafe { libc::kill(pid, sig) == 0 }
}
