//! The echo server over a Unix-domain stream socket, with the flags of the TCP `echo`.
//!
//! ```text
//! cargo run --release --example unix_echo -- [--path PATH|@NAME] [--max-connections N]
//!     [--idle-timeout SECS] [--drain-timeout SECS] [--replace-stale]
//!     [--backend auto|epoll|io_uring]
//! ```
//! The default path is `$XDG_RUNTIME_DIR/event-echo.sock`, or `./event-echo.sock` where that is
//! not set; `@NAME` listens in Linux's abstract namespace. Then
//! `socat - UNIX-CONNECT:PATH` (or `nc -U PATH`) and type. SIGINT (Ctrl-C) or SIGTERM stops
//! accepting, removes the socket file, lets open connections finish for up to the drain
//! timeout, and exits 0; a second signal kills the process at once. A socket file left by a
//! server that died is refused ("stale socket file at PATH") unless `--replace-stale` is given.

use std::process::ExitCode;
use std::time::Duration;

use event::signal::{SIGINT, SIGTERM};
use event::{
    Backend, EventLoop, Shutdown, ShutdownReport, SocketError, UnixAddress, UnixListenOptions,
    UnixSocket,
};

struct Config {
    address: UnixAddress,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    drain_timeout: Duration,
    replace_stale: bool,
    backend: Option<Backend>,
}

enum Command {
    Serve(Config),
    Help,
}

const USAGE: &str = "\
usage: unix_echo [--path PATH|@NAME] [--max-connections N] [--idle-timeout SECS]
                 [--drain-timeout SECS] [--replace-stale] [--backend auto|epoll|io_uring]

  --path PATH|@NAME      where to listen: a socket file, or @NAME in the abstract namespace
                         (default $XDG_RUNTIME_DIR/event-echo.sock, else ./event-echo.sock)
  --max-connections N    at most N connections open at once, N >= 1 (default 10000); others
                         wait in the kernel's backlog
  --idle-timeout SECS    close a connection whose read or write waits longer than SECS
                         (default: none)
  --drain-timeout SECS   on SIGINT/SIGTERM, how long open connections may finish (default 10);
                         a second signal kills the process at once
  --replace-stale        replace a socket file nobody listens on (left by a server that died)
  --backend B            auto, epoll or io_uring (default: EVENT_BACKEND, else auto)
  -h, --help             print this and exit";

async fn echo(client: UnixSocket) -> Result<(), SocketError> {
    let mut buf = Vec::new();
    loop {
        client.read_buf(&mut buf, 64 * 1024).await?;
        let (result, empty) = client.write_owned(buf).await;
        result?;
        buf = empty;
    }
}

async fn serve(options: UnixListenOptions, config: &Config) -> Result<ShutdownReport, SocketError> {
    let server = options.listen(&config.address)?;
    let shutdown = Shutdown::new();
    shutdown.close_on_trigger(&server);
    shutdown.trigger_on_signals(&[SIGINT, SIGTERM])?;
    println!(
        "unix echo server listening on {} (backend: {})",
        server.local_address(),
        event::backend()
    );
    let mut connections = server.connections();
    while let Some(client) = connections.next().await {
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        shutdown.spawn(async move {
            match echo(client).await {
                Err(SocketError::ConnectionClosed) | Err(SocketError::UnixTimeout { .. }) => {}
                Err(e) => eprintln!("{e}"),
                Ok(()) => {}
            }
        });
    }
    Ok(shutdown.drain(config.drain_timeout).await)
}

fn default_address() -> UnixAddress {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => {
            UnixAddress::path(std::path::Path::new(&dir).join("event-echo.sock"))
        }
        _ => UnixAddress::path("event-echo.sock"),
    }
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut config = Config {
        address: default_address(),
        max_connections: 10_000,
        idle_timeout: None,
        drain_timeout: Duration::from_secs(10),
        replace_stale: false,
        backend: None,
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--path" => config.address = UnixAddress::from(value()?),
            "--max-connections" => {
                config.max_connections = match value()?.parse::<usize>() {
                    Ok(0) => return Err(format!("{flag}: must be at least 1")),
                    Ok(n) => n,
                    Err(e) => return Err(format!("{flag}: {e}")),
                }
            }
            "--idle-timeout" => {
                let idle = secs(&flag, &value()?)?;
                if idle.is_zero() {
                    return Err("--idle-timeout: must be more than 0 seconds".into());
                }
                config.idle_timeout = Some(idle);
            }
            "--drain-timeout" => config.drain_timeout = secs(&flag, &value()?)?,
            "--replace-stale" => config.replace_stale = true,
            "--backend" => {
                config.backend = Some(
                    value()?
                        .parse::<Backend>()
                        .map_err(|e| format!("--backend: {e}"))?,
                )
            }
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    Ok(Command::Serve(config))
}

fn secs(flag: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = v.parse().map_err(|e| format!("{flag}: {v:?}: {e}"))?;
    Duration::try_from_secs_f64(s).map_err(|e| format!("{flag}: {e}"))
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(c)) => c,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("unix_echo: {msg}");
            return ExitCode::from(2);
        }
    };
    let mut options = UnixListenOptions::new()
        .max_connections(config.max_connections)
        .replace_stale(config.replace_stale);
    if let Some(idle) = config.idle_timeout {
        options = options.idle_timeout(idle);
    }
    let mut builder = EventLoop::builder();
    if let Some(backend) = config.backend {
        builder = builder.backend(backend);
    }
    let lp = match builder.build() {
        Ok(lp) => lp,
        Err(e) => {
            eprintln!("unix_echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(reason) = lp.fallback_reason() {
        println!("{reason}; running on {}", lp.backend());
    }
    match lp.block_on(serve(options, &config)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unix_echo: {e}");
            ExitCode::FAILURE
        }
    }
}
