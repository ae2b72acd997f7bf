//! The echo server of the Swift article, in Rust, with the flags a production server needs.
//!
//! ```text
//! cargo run --release --example echo -- [--addr 127.0.0.1:8080] [--max-connections N] [--idle-timeout SECS]
//! ```
//! Then `nc 127.0.0.1 8080` (or `cargo run --example client`) and type.

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use event::{Socket, SocketAddress, SocketError};

struct Config {
    addr: SocketAddress,
    max_connections: usize,
    idle_timeout: Option<Duration>,
}

async fn echo(client: Socket) -> Result<(), SocketError> {
    loop {
        let bytes = client.read(64 * 1024).await?;
        client.write(&bytes).await?;
    }
}

async fn serve(config: Config) -> Result<(), SocketError> {
    let server = Socket::listen_on(config.addr)?;
    println!(
        "echo server listening on {} (backend: {})",
        server.local_address(),
        event::backend()
    );
    let open = Rc::new(Cell::new(0usize));
    let mut connections = server.connections();
    while let Some(client) = connections.next().await {
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        if open.get() >= config.max_connections {
            client.close();
            continue;
        }
        let _ = client.set_nodelay(true);
        client.set_read_timeout(config.idle_timeout);
        open.set(open.get() + 1);
        let open = open.clone();
        event::spawn(async move {
            match echo(client).await {
                Err(SocketError::ConnectionClosed) | Err(SocketError::Timeout { .. }) => {}
                Err(e) => eprintln!("{e}"),
                Ok(()) => {}
            }
            open.set(open.get() - 1);
        });
    }
    Ok(())
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8080),
        max_connections: 10_000,
        idle_timeout: None,
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
            "--idle-timeout" => {
                let secs: f64 = value()?
                    .parse()
                    .map_err(|e| format!("--idle-timeout: {e}"))?;
                config.idle_timeout = Some(Duration::from_secs_f64(secs));
            }
            "-h" | "--help" => {
                return Err(
                    "usage: echo [--addr IP:PORT] [--max-connections N] [--idle-timeout SECS]"
                        .into(),
                );
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
