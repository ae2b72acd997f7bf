//! The echo server of the Swift article, in Rust, with the flags a production server needs.
//!
//! ```text
//! cargo run --release --example echo -- [--addr 127.0.0.1:8080] [--max-connections N]
//!     [--idle-timeout SECS] [--drain-timeout SECS] [--threads N|auto]
//!     [--backend auto|epoll|io_uring]
//! ```
//! (the `--` separates cargo's flags from the server's). Then `nc 127.0.0.1 8080` (or
//! `cargo run --example client`) and type. SIGINT (Ctrl-C) or SIGTERM stops accepting at once,
//! lets open connections finish for up to the drain timeout, and exits 0. A second SIGINT or
//! SIGTERM during the drain is not caught: it kills the process at once, by the signal (exit
//! status 130 for Ctrl-C in a shell), without the shutdown report.
//! `--threads N` runs N loops (one per core with `auto`), each with its own listener on the port;
//! a port another socket already listens on is refused ("address in use"), with any N.
//! `--backend` picks the driver of every loop (default: `EVENT_BACKEND`, else `auto`: io_uring
//! where the kernel allows it, epoll otherwise); the first line says which one runs.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::{Command, Flags, at_least_one, config_or_exit, positive_secs, secs};
use event::signal::{SIGINT, SIGTERM};
use event::{
    Backend, EventLoop, ListenOptions, LoopContext, PerCore, ServerSocket, Shutdown,
    ShutdownReport, Socket, SocketAddress, SocketError,
};

struct Config {
    addr: SocketAddress,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    drain_timeout: Duration,
    threads: usize,
    /// `None`: whatever `EVENT_BACKEND` says (else auto).
    backend: Option<Backend>,
}

const USAGE: &str = "\
usage: echo [--addr IP:PORT] [--max-connections N] [--idle-timeout SECS]
            [--drain-timeout SECS] [--threads N|auto] [--backend auto|epoll|io_uring]

  --addr IP:PORT         where to listen (default 127.0.0.1:8080; 0.0.0.0:PORT for every interface)
  --max-connections N    at most N connections open at once, N >= 1 (default 10000); others
                         wait in the kernel's backlog
  --idle-timeout SECS    close a connection whose read or write waits longer than SECS
                         (default: none)
  --drain-timeout SECS   on SIGINT/SIGTERM, how long open connections may finish (default 10);
                         a second signal kills the process at once
  --threads N|auto       N event loops, N >= 1, or one per core (default 1)
  --backend B            auto, epoll or io_uring (default: EVENT_BACKEND, else auto)
  -h, --help             print this and exit";

/// Allocation counting for the benchmarks (`--features count-allocs`, see `bench/allocs.sh`):
/// the system allocator with two counters, printed on SIGUSR1 as
/// `allocations: N bytes: B frees: F` on stderr. Without the feature this module is not built.
#[cfg(feature = "count-allocs")]
mod count_allocs {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    struct Counting;

    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    static BYTES: AtomicU64 = AtomicU64::new(0);
    static FREES: AtomicU64 = AtomicU64::new(0);

    // SAFETY: every call is passed through to `System` unchanged; the counters only count.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Relaxed);
            BYTES.fetch_add(layout.size() as u64, Relaxed);
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            FREES.fetch_add(1, Relaxed);
            // SAFETY: the caller's contract, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // A growth or shrink counts as one allocation (the vector asked for memory again).
            ALLOCATIONS.fetch_add(1, Relaxed);
            BYTES.fetch_add(new_size as u64, Relaxed);
            FREES.fetch_add(1, Relaxed);
            // SAFETY: the caller's contract, passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Prints the counters on every SIGUSR1 (one task on the first loop).
    pub(crate) fn report_on_sigusr1() {
        let mut signals = match event::signal::signal_stream(&[event::signal::SIGUSR1]) {
            Ok(s) => s,
            Err(e) => return eprintln!("count-allocs: {e}"),
        };
        event::spawn(async move {
            while signals.next().await.is_some() {
                eprintln!(
                    "allocations: {} bytes: {} frees: {}",
                    ALLOCATIONS.load(Relaxed),
                    BYTES.load(Relaxed),
                    FREES.load(Relaxed)
                );
            }
        });
    }
}

/// Takes the socket by reference: an `async fn` keeps a by-value argument twice in its future
/// (rust-lang/rust#62958), and the task's future is copied on its way into the task, so a
/// borrowed socket makes each connection's task smaller and cheaper to start.
async fn echo(client: &Socket) -> Result<(), SocketError> {
    // One buffer per connection, grown to the largest message and reused: no allocation per
    // message, and none at all while the connection is idle. On io_uring no byte is copied in
    // user space: `read_buf` into an empty vector trades it for the received bytes, and
    // `write_owned` hands the vector to the driver, which sends from it after the loop's next
    // wait (write-behind) and gives back the previous send buffer, empty.
    let mut buf = Vec::new();
    loop {
        client.read_buf(&mut buf, 64 * 1024).await?;
        let (result, empty) = client.write_owned(buf).await;
        result?;
        buf = empty;
    }
}

/// One loop's server: accept until SIGINT/SIGTERM, then drain.
async fn serve(
    server: ServerSocket,
    ctx: LoopContext,
    drain: Duration,
    fallback: Option<String>,
) -> ShutdownReport {
    let shutdown = Shutdown::new();
    shutdown.close_on_trigger(&server);
    if let Err(e) = shutdown.trigger_on_signals(&[SIGINT, SIGTERM]) {
        eprintln!("signals: {e}");
    }
    if ctx.index() == 0 {
        #[cfg(feature = "count-allocs")]
        count_allocs::report_on_sigusr1();
        // `event::backend()` inside the loop: the driver this loop really runs.
        println!(
            "echo server listening on {} (backend: {}, loops: {})",
            server.local_address(),
            event::backend(),
            ctx.loops().len()
        );
        if let Some(reason) = &fallback {
            println!("{reason}; running on {}", event::backend());
        }
    }
    let mut connections = server.connections();
    while let Some(client) = connections.next().await {
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                // Out of descriptors, say: reported once; the listener backs off by itself.
                eprintln!("{e}");
                continue;
            }
        };
        shutdown.spawn(async move {
            match echo(&client).await {
                Err(SocketError::ConnectionClosed) | Err(SocketError::Timeout { .. }) => {}
                Err(e) => eprintln!("{e}"),
                Ok(()) => {}
            }
        });
    }
    shutdown.drain(drain).await
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Command<Config>, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8080),
        max_connections: 10_000,
        idle_timeout: None,
        drain_timeout: Duration::from_secs(10),
        threads: 1,
        backend: None,
    };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        let f = flag.as_str();
        match f {
            "--addr" => config.addr = common::addr(f, &flags.value(f)?)?,
            "--max-connections" => config.max_connections = at_least_one(f, &flags.value(f)?)?,
            "--idle-timeout" => config.idle_timeout = Some(positive_secs(f, &flags.value(f)?)?),
            "--drain-timeout" => config.drain_timeout = secs(f, &flags.value(f)?)?,
            "--threads" => config.threads = common::threads(f, &flags.value(f)?)?,
            "--backend" => config.backend = Some(common::backend(f, &flags.value(f)?)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(common::unknown(other)),
        }
    }
    Ok(Command::Serve(config))
}

fn main() -> ExitCode {
    let config = match config_or_exit("echo", USAGE, parse_args(std::env::args().skip(1))) {
        Ok(config) => config,
        Err(code) => return code,
    };
    // TCP_NODELAY on every connection, set by the listener (on io_uring as a ring command).
    let mut options = ListenOptions::new()
        .max_connections(config.max_connections)
        .nodelay(true);
    if let Some(idle) = config.idle_timeout {
        options = options.idle_timeout(idle);
    }
    let drain = config.drain_timeout;
    // The loops are built inside `PerCore` (on their own threads, or on this one when there is
    // one loop): a probe loop built the same way first says why auto fell back (if it did), or
    // that the driver asked for is refused, then goes away. Each loop names its own driver.
    let mut probe = EventLoop::builder();
    let mut loops = PerCore::new().threads(config.threads);
    if let Some(backend) = config.backend {
        probe = probe.backend(backend);
        loops = loops.backend(backend);
    }
    let fallback = match probe.build() {
        Ok(lp) => lp.fallback_reason().map(str::to_string),
        Err(e) => {
            // A bad EVENT_BACKEND, or io_uring asked for and refused.
            eprintln!("echo: {e}");
            return if e.kind() == std::io::ErrorKind::InvalidInput {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    let results = match loops.listen(&options, config.addr, move |server, ctx| {
        serve(server, ctx, drain, fallback.clone())
    }) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut total = ShutdownReport {
        finished: 0,
        cut: 0,
    };
    let mut failed = false;
    for result in results {
        match result {
            Ok(report) => {
                total.finished += report.finished;
                total.cut += report.cut;
            }
            Err(e) => {
                eprintln!("echo: a loop failed: {e}");
                failed = true;
            }
        }
    }
    println!("{total}");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
