//! The echo server of the Swift article, in Rust, with the flags a production server needs.
//!
//! ```text
//! cargo run --release --example echo -- [--addr 127.0.0.1:8080] [--max-connections N]
//!     [--idle-timeout SECS] [--drain-timeout SECS]
//! ```
//! Then `nc 127.0.0.1 8080` (or `cargo run --example client`) and type. SIGINT or SIGTERM stops
//! accepting at once, lets open connections finish for up to the drain timeout, and exits 0.

use std::process::ExitCode;
use std::time::Duration;

use event::signal::{SIGINT, SIGTERM};
use event::{ListenOptions, Shutdown, Socket, SocketAddress, SocketError};

struct Config {
    addr: SocketAddress,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    drain_timeout: Duration,
}

async fn echo(client: Socket) -> Result<(), SocketError> {
    // One buffer per connection, grown to the largest message and reused: no allocation per
    // message, and none at all while the connection is idle.
    let mut buf = Vec::new();
    loop {
        buf.clear();
        client.read_buf(&mut buf, 64 * 1024).await?;
        client.write(&buf).await?;
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = ListenOptions::new().max_connections(config.max_connections);
    if let Some(idle) = config.idle_timeout {
        options = options.idle_timeout(idle);
    }
    let server = options.listen_on(config.addr)?;
    let shutdown = Shutdown::new();
    shutdown.close_on_trigger(&server);
    shutdown.trigger_on_signals(&[SIGINT, SIGTERM])?;
    println!(
        "echo server listening on {} (backend: {})",
        server.local_address(),
        event::backend()
    );

    let mut connections = server.connections();
    while let Some(client) = connections.next().await {
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                // Out of descriptors, say: the listener backs off by itself; keep serving.
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
    let report = shutdown.drain(config.drain_timeout).await;
    println!("{report}");
    Ok(())
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8080),
        max_connections: 10_000,
        idle_timeout: None,
        drain_timeout: Duration::from_secs(10),
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
            "-h" | "--help" => {
                return Err("usage: echo [--addr IP:PORT] [--max-connections N] \
                     [--idle-timeout SECS] [--drain-timeout SECS]"
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
    match event::run(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}
