//! A TLS echo server: rustls (ring provider) through `futures-rustls` over the `futures-io`
//! traits that `Socket` implements, with a self-signed certificate made at start.
//!
//! ```text
//! cargo run --release -p event-ecosystem --example tls_echo -- [--addr 127.0.0.1:8443] [--cert-out PATH]
//! ```
//! The certificate is for `localhost` and `127.0.0.1`; `--cert-out` writes it in PEM so a client
//! can trust it, e.g. `openssl s_client -connect 127.0.0.1:8443 -CAfile PATH`, then type.

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use event::{Socket, SocketAddress};
use futures_rustls::TlsAcceptor;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

/// How long a client has to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct Config {
    addr: SocketAddress,
    cert_out: Option<std::path::PathBuf>,
}

async fn echo(acceptor: TlsAcceptor, client: Socket) -> std::io::Result<()> {
    let mut tls = match event::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(client)).await {
        Ok(tls) => tls?,
        Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
    };
    let mut buf = vec![0; 16 * 1024];
    loop {
        // Ok(0): the client sent close_notify (or closed the connection).
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        // TLS buffers records: flush so they reach the socket now.
        tls.write_all(&buf[..n]).await?;
        tls.flush().await?;
    }
    // Our close_notify, then half-close.
    tls.close().await
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let acceptor = TlsAcceptor::from(Arc::new(common::self_signed_config(
        config.cert_out.as_deref(),
    )?));
    let server = Socket::listen_on(config.addr)?;
    println!(
        "tls echo server listening on {} (backend: {})",
        server.local_address(),
        event::backend()
    );
    loop {
        let client = match server.accept().await {
            Ok(client) => client,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        let peer = client.peer_address();
        let acceptor = acceptor.clone();
        drop(event::spawn(async move {
            if let Err(e) = echo(acceptor, client).await {
                eprintln!("{peer}: {e}");
            }
        }));
    }
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8443),
        cert_out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => config.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--cert-out" => config.cert_out = Some(value()?.into()),
            "-h" | "--help" => {
                return Err("usage: tls_echo [--addr IP:PORT] [--cert-out PATH]".into());
            }
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    event_ecosystem::run_example("tls_echo", parse_args, |config| event::run(serve(config)))
}
