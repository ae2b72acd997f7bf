//! A UDP echo server: every datagram goes back to its sender, whole.
//!
//! ```text
//! cargo run --release --example udp_echo -- [--addr 127.0.0.1:8082] [--threads N|auto]
//!     [--backend auto|epoll|io_uring]
//! ```
//! Then `nc -u 127.0.0.1 8082` and type (each line is one datagram). SIGINT (Ctrl-C) or
//! SIGTERM stops it (exit 0). `--threads N` runs N loops, each with its own `SO_REUSEPORT`
//! socket on the port (the kernel spreads senders over them); a port another socket is bound to
//! is refused. The first line says which address and driver serve.

use std::process::ExitCode;

use event::signal::{SIGINT, SIGTERM, signal_stream};
use event::{
    Backend, EventLoop, LoopContext, PerCore, SocketAddress, SocketError, ToListenAddress,
    UdpOptions, UdpSocket,
};

const USAGE: &str = "\
usage: udp_echo [--addr IP:PORT] [--threads N|auto] [--backend auto|epoll|io_uring]

  --addr IP:PORT    where to bind (default 127.0.0.1:8082; 0.0.0.0:PORT for every interface)
  --threads N|auto  N event loops, N >= 1, or one per core (default 1)
  --backend B       auto, epoll or io_uring (default: EVENT_BACKEND, else auto)
  -h, --help        print this and exit";

struct Config {
    addr: SocketAddress,
    threads: usize,
    backend: Option<Backend>,
}

/// Echoes datagrams until SIGINT/SIGTERM. A buffer of 64 KiB holds any datagram, so none is
/// truncated; errors of one datagram (an ICMP error for an earlier reply) are skipped.
async fn serve(socket: UdpSocket, ctx: LoopContext) -> Result<(), SocketError> {
    let mut signals = signal_stream(&[SIGINT, SIGTERM])?;
    if ctx.index() == 0 {
        println!(
            "udp echo server on {} (backend: {}, loops: {})",
            socket.local_address(),
            event::backend(),
            ctx.loops().len()
        );
    }
    let echo = async {
        let mut buf = vec![0u8; 65_536];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((n, from)) => {
                    if let Err(e) = socket.send_to(&buf[..n], from).await {
                        eprintln!("{e}");
                    }
                }
                Err(e) => eprintln!("{e}"),
            }
        }
    };
    // Whichever ends first: the echo never does, a signal stops it.
    let stop = async {
        signals.next().await;
    };
    race(echo, stop).await;
    Ok(())
}

/// Runs both futures until the first one finishes.
async fn race(a: impl std::future::Future<Output = ()>, b: impl std::future::Future<Output = ()>) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8082),
        threads: 1,
        backend: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => {
                config.addr = value()?
                    .to_listen_address()
                    .map_err(|e| format!("--addr: {e}"))?
            }
            "--threads" => {
                config.threads = match value()?.as_str() {
                    "auto" => PerCore::new().thread_count(),
                    n => match n.parse::<usize>() {
                        Ok(0) => return Err("--threads: must be at least 1, or auto".into()),
                        Ok(n) => n,
                        Err(e) => return Err(format!("--threads: {n:?}: {e}")),
                    },
                }
            }
            "--backend" => {
                config.backend = Some(
                    value()?
                        .parse::<Backend>()
                        .map_err(|e| format!("--backend: {e}"))?,
                )
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    Ok(Some(config))
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("udp_echo: {msg}");
            return ExitCode::from(2);
        }
    };
    let mut probe = EventLoop::builder();
    let mut loops = PerCore::new().threads(config.threads);
    if let Some(backend) = config.backend {
        probe = probe.backend(backend);
        loops = loops.backend(backend);
    }
    // A bad EVENT_BACKEND, or io_uring asked for and refused: say so before binding.
    if let Err(e) = probe.build() {
        eprintln!("udp_echo: {e}");
        return ExitCode::FAILURE;
    }
    match loops.bind_udp(&UdpOptions::new(), config.addr, serve) {
        Ok(results) => {
            let mut status = ExitCode::SUCCESS;
            for r in results {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        eprintln!("udp_echo: {e}");
                        status = ExitCode::FAILURE;
                    }
                    Err(e) => {
                        eprintln!("udp_echo: a loop failed: {e}");
                        status = ExitCode::FAILURE;
                    }
                }
            }
            status
        }
        Err(e) => {
            eprintln!("udp_echo: {e}");
            ExitCode::FAILURE
        }
    }
}
