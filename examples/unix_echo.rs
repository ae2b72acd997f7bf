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

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::{Command, Flags, at_least_one, config_or_exit, positive_secs, secs};
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

fn parse_args(args: impl Iterator<Item = String>) -> Result<Command<Config>, String> {
    let mut config = Config {
        address: default_address(),
        max_connections: 10_000,
        idle_timeout: None,
        drain_timeout: Duration::from_secs(10),
        replace_stale: false,
        backend: None,
    };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        let f = flag.as_str();
        match f {
            "--path" => config.address = UnixAddress::from(flags.value(f)?),
            "--max-connections" => config.max_connections = at_least_one(f, &flags.value(f)?)?,
            "--idle-timeout" => config.idle_timeout = Some(positive_secs(f, &flags.value(f)?)?),
            "--drain-timeout" => config.drain_timeout = secs(f, &flags.value(f)?)?,
            "--replace-stale" => config.replace_stale = true,
            "--backend" => config.backend = Some(common::backend(f, &flags.value(f)?)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(common::unknown(other)),
        }
    }
    Ok(Command::Serve(config))
}

fn main() -> ExitCode {
    let config = match config_or_exit("unix_echo", USAGE, parse_args(std::env::args().skip(1))) {
        Ok(config) => config,
        Err(code) => return code,
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
