//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod clients;
pub mod echo_process;
pub mod python;
pub mod sys;
pub mod unix;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use event::{ServerSocket, Socket, SocketAddress};

/// Runs `future` on a fresh loop, failing the test instead of hanging if it takes over 60 s.
pub fn run<F: Future>(future: F) -> F::Output {
    event::run(async {
        event::timeout(Duration::from_secs(60), future)
            .await
            .expect("test did not finish within 60 s")
    })
}

/// Polls `f` once with a waker that does nothing, then drops it (as a `select` or a timeout
/// would drop a pending operation); returns whether it was pending.
pub fn poll_once_then_drop<F: Future>(f: F) -> bool {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    matches!(f.as_mut().poll(&mut cx), Poll::Pending)
}

/// A listener on 127.0.0.1 with an ephemeral port.
pub fn listen_local() -> ServerSocket {
    Socket::listen_on(SocketAddress::localhost(0)).expect("listen on 127.0.0.1:0")
}

/// A connected pair on loopback: (client side, server side).
pub async fn pair() -> (Socket, Socket) {
    let server = listen_local();
    let (client, accepted) = join(Socket::connect(server.local_address()), server.accept()).await;
    (client.unwrap(), accepted.unwrap())
}

/// Spawns an echo server on the current loop; returns its address.
pub fn spawn_echo_server() -> SocketAddress {
    let server = listen_local();
    let addr = server.local_address();
    event::spawn(async move {
        loop {
            let Ok(client) = server.accept().await else {
                return;
            };
            event::spawn(async move {
                while let Ok(bytes) = client.read(64 * 1024).await {
                    if client.write(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A connected pair whose kernel buffers are small (64 KiB send on `a`, receive on `b`), so a
/// writer stalls early when the reader is slow.
pub async fn small_buffer_pair() -> (Socket, Socket) {
    let (a, b) = pair().await;
    socket2::SockRef::from(&a)
        .set_send_buffer_size(64 * 1024)
        .unwrap();
    socket2::SockRef::from(&b)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    (a, b)
}

/// Reads exactly `n` bytes.
pub async fn read_exact(socket: &Socket, n: usize) -> Result<Vec<u8>, event::SocketError> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(socket.read(n - out.len()).await?);
    }
    Ok(out)
}

/// A deterministic, non-repeating-looking byte pattern.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Sets a flag when dropped.
pub struct DropGuard(pub std::rc::Rc<std::cell::Cell<bool>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Polls two futures concurrently (a tiny join, to avoid a dependency).
pub async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// An example binary as a child process, killed when dropped.
pub struct ExampleProcess {
    pub child: std::process::Child,
    /// The address the example printed in its first line.
    pub addr: std::net::SocketAddr,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
    /// The first line the server printed.
    pub banner: String,
}

/// The echo example as a child process (an [`ExampleProcess`]).
pub type EchoProcess = ExampleProcess;

impl ExampleProcess {
    /// Starts the echo example on an ephemeral loopback port with extra flags, optionally
    /// through a wrapper command (e.g. `prlimit`).
    pub fn start(wrapper: &[&str], flags: &[&str]) -> ExampleProcess {
        ExampleProcess::spawn(&echo_binary(), wrapper, flags)
    }

    /// Starts the example `name` (built by `cargo test` next to the test binaries) with
    /// `--addr 127.0.0.1:0` and `flags`.
    pub fn example(name: &str, flags: &[&str]) -> ExampleProcess {
        ExampleProcess::spawn(&example_binary(name), &[], flags)
    }

    /// Starts `bin --addr 127.0.0.1:0 FLAGS` (through `wrapper` if not empty), reads the address
    /// from its first stdout line, and keeps draining its stdout and stderr.
    pub fn spawn(bin: &std::path::Path, wrapper: &[&str], flags: &[&str]) -> ExampleProcess {
        use std::io::BufRead;
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = std::process::Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => std::process::Command::new(bin),
        };
        let mut child = cmd
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(addr) = line.split_whitespace().find_map(|w| w.parse().ok()) else {
            let _ = child.kill();
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            let _ = child.wait();
            panic!("{}: no address in {line:?}; stderr: {err}", bin.display());
        };
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut l = String::new();
            while err.read_line(&mut l).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push_str(&l);
                l.clear();
            }
        });
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        });
        ExampleProcess {
            child,
            addr,
            stderr,
            banner: line,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Open descriptors of the child.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// User + system CPU time of the child so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the comm.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(self.pid() as i32, sig);
        }
    }
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The echo example: `$EVENT_ECHO` if set (CI points it at the release build), else the debug
/// build `cargo test` makes next to the test binaries.
pub fn echo_binary() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("EVENT_ECHO") {
        return p.into();
    }
    example_binary("echo")
}

/// The example `name` as `cargo test` builds it: `target/<profile>/examples/<name>`, next to
/// the `deps/` folder that holds the test binaries.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

impl ExampleProcess {
    /// Resident memory of the child, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    /// Whether the child is still running.
    pub fn child_alive(&self) -> bool {
        std::path::Path::new(&format!("/proc/{}", self.pid())).exists()
    }
}

/// Waits up to `limit` for `child` to exit; kills it (and returns `None`) if it does not.
pub fn wait_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs an example binary with `args` (stdin closed) to its end, within 20 s.
pub fn run_example(bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    // Both pipes are drained on threads so a chatty child cannot block on a full pipe.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let status = wait_timeout(&mut child, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{} {args:?} still ran after 20 s", bin.display()));
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The drivers to test on this machine: epoll always; io_uring unless CI found it refused here
/// and said so with `EVENT_NO_IO_URING` (see `.ci/run`).
pub fn drivers() -> Vec<event::Backend> {
    let mut drivers = vec![event::Backend::Epoll];
    if cfg!(target_os = "linux") && std::env::var_os("EVENT_NO_IO_URING").is_none() {
        drivers.push(event::Backend::IoUring);
    }
    drivers
}

/// A loop on `backend`, which must be available.
pub fn event_loop(backend: event::Backend) -> event::EventLoop {
    event::EventLoop::builder()
        .backend(backend)
        .build()
        .unwrap_or_else(|e| panic!("a loop on {backend:?}: {e}"))
}

/// A socket of an ended loop used in another: its operation failed (`err`) rather than hang,
/// saying why, soon after `start`.
pub fn assert_failed_as_another_loops(err: &dyn std::fmt::Display, start: std::time::Instant) {
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(err.to_string().contains("another event loop"), "{err}");
}
