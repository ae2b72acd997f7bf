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

mod common;

use std::process::ExitCode;

use common::{Command, Flags, config_or_exit};
use event::signal::{SIGINT, SIGTERM, signal_stream};
use event::{
    Backend, EventLoop, LoopContext, PerCore, SocketAddress, SocketError, UdpOptions, UdpSocket,
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

fn parse_args(args: impl Iterator<Item = String>) -> Result<Command<Config>, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8082),
        threads: 1,
        backend: None,
    };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        let f = flag.as_str();
        match f {
            "--addr" => config.addr = common::addr(f, &flags.value(f)?)?,
            "--threads" => config.threads = common::threads(f, &flags.value(f)?)?,
            "--backend" => config.backend = Some(common::backend(f, &flags.value(f)?)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(common::unknown(other)),
        }
    }
    Ok(Command::Serve(config))
}

fn main() -> ExitCode {
    let config = match config_or_exit("udp_echo", USAGE, parse_args(std::env::args().skip(1))) {
        Ok(config) => config,
        Err(code) => return code,
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
