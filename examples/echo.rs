//! The echo server of the Swift article, in Rust, with the flags a production server needs.
//!
//! ```text
//! cargo run --release --example echo -- [--addr 127.0.0.1:8080] [--max-connections N]
//!     [--idle-timeout SECS] [--drain-timeout SECS] [--threads N|auto]
//!     [--backend auto|epoll|io_uring]
//! ```
//! Then `nc 127.0.0.1 8080` (or `cargo run --example client`) and type. SIGINT or SIGTERM stops
//! accepting at once, lets open connections finish for up to the drain timeout, and exits 0.
//! `--threads N` runs N loops (one per core with `auto`), each with its own listener on the port.
//! `--backend` picks the driver of every loop (default: `EVENT_BACKEND`, else `auto`: io_uring
//! where the kernel allows it, epoll otherwise); the first line says which one runs.

use std::process::ExitCode;
use std::time::Duration;

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

/// The driver the loops run on, as a probe loop built like theirs reports it.
#[derive(Clone)]
struct Driver {
    name: &'static str,
    /// Why auto did not pick io_uring, if it did not.
    fallback: Option<String>,
}

async fn echo(client: Socket) -> Result<(), SocketError> {
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
    driver: Driver,
) -> ShutdownReport {
    let shutdown = Shutdown::new();
    shutdown.close_on_trigger(&server);
    if let Err(e) = shutdown.trigger_on_signals(&[SIGINT, SIGTERM]) {
        eprintln!("signals: {e}");
    }
    if ctx.index() == 0 {
        println!(
            "echo server listening on {} (backend: {}, loops: {})",
            server.local_address(),
            driver.name,
            ctx.loops().len()
        );
        if let Some(reason) = &driver.fallback {
            println!("{reason}; running on {}", driver.name);
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
        let _ = client.set_nodelay(true);
        shutdown.spawn(async move {
            match echo(client).await {
                Err(SocketError::ConnectionClosed) | Err(SocketError::Timeout { .. }) => {}
                Err(e) => eprintln!("{e}"),
                Ok(()) => {}
            }
        });
    }
    shutdown.drain(drain).await
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8080),
        max_connections: 10_000,
        idle_timeout: None,
        drain_timeout: Duration::from_secs(10),
        threads: 1,
        backend: None,
    };
    let secs = |flag: &str, v: String| -> Result<Duration, String> {
        let s: f64 = v.parse().map_err(|e| format!("{flag}: {e}"))?;
        Duration::try_from_secs_f64(s).map_err(|e| format!("{flag}: {e}"))
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => config.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--max-connections" => {
                config.max_connections = value()?
                    .parse()
                    .map_err(|e| format!("--max-connections: {e}"))?
            }
            "--idle-timeout" => config.idle_timeout = Some(secs(&flag, value()?)?),
            "--drain-timeout" => config.drain_timeout = secs(&flag, value()?)?,
            "--threads" => {
                config.threads = match value()?.as_str() {
                    "auto" => PerCore::new().thread_count(),
                    n => n.parse().map_err(|e| format!("--threads: {e}"))?,
                }
            }
            "--backend" => {
                config.backend = Some(
                    value()?
                        .parse::<Backend>()
                        .map_err(|e| format!("--backend: {e}"))?,
                )
            }
            "-h" | "--help" => {
                return Err("usage: echo [--addr IP:PORT] [--max-connections N] \
                     [--idle-timeout SECS] [--drain-timeout SECS] [--threads N|auto] \
                     [--backend auto|epoll|io_uring]"
                    .into());
            }
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut options = ListenOptions::new().max_connections(config.max_connections);
    if let Some(idle) = config.idle_timeout {
        options = options.idle_timeout(idle);
    }
    let drain = config.drain_timeout;
    // The loops are built inside `PerCore` (on their own threads, or on this one when there is
    // one loop), out of reach of `serve`: a probe loop built the same way says which driver they
    // get (and why auto fell back, if it did), then goes away.
    let mut probe = EventLoop::builder();
    let mut loops = PerCore::new().threads(config.threads);
    if let Some(backend) = config.backend {
        probe = probe.backend(backend);
        loops = loops.backend(backend);
    }
    let driver = match probe.build() {
        Ok(lp) => Driver {
            name: lp.backend(),
            fallback: lp.fallback_reason().map(str::to_string),
        },
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
        serve(server, ctx, drain, driver.clone())
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
