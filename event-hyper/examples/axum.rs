//! An axum `Router` served by `event_hyper::Server` on an event loop: HTTP/1.1 and HTTP/2,
//! timeouts and limits on, Ctrl-C (or SIGTERM) drains and exits 0.
//!
//! ```text
//! cargo run --release -p event-hyper --example axum -- [--addr 127.0.0.1:8080] [--backend auto|epoll|io_uring]
//! ```
//! Then `curl http://127.0.0.1:8080/` ("Hello, world!"), `curl http://127.0.0.1:8080/users/7`
//! (JSON), or `curl -H 'content-type: application/json' -d '{"name":"ada"}'
//! http://127.0.0.1:8080/users` (201, JSON).

use std::process::ExitCode;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use event::{Backend, EventLoop, Shutdown, Socket, SocketAddress};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

/// The application: plain axum, nothing event-specific.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello, world!\n" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move {
                Json(User {
                    id,
                    name: format!("user {id}"),
                })
            }),
        )
        .route(
            "/users",
            post(|Json(new): Json<NewUser>| async move {
                (
                    StatusCode::CREATED,
                    Json(User {
                        id: 1,
                        name: new.name,
                    }),
                )
            }),
        )
}

struct Config {
    addr: SocketAddress,
    backend: Option<Backend>,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddress::localhost(8080),
        backend: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => {
                let value = args.next().ok_or("--addr needs a value")?;
                config.addr = value.parse().map_err(|e| format!("--addr: {e}"))?;
            }
            "--backend" => {
                let value = args.next().ok_or("--backend needs a value")?;
                config.backend = Some(value.parse().map_err(|e| format!("--backend: {e}"))?);
            }
            "-h" | "--help" => {
                println!("usage: axum [--addr IP:PORT] [--backend auto|epoll|io_uring]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    Ok(config)
}

fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = EventLoop::builder();
    if let Some(backend) = config.backend {
        builder = builder.backend(backend);
    }
    builder.build()?.block_on(async {
        let listener = Socket::listen_on(config.addr)?;
        println!(
            "axum server listening on {} (backend: {})",
            listener.local_address(),
            event::backend()
        );
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signals(&[event::signal::SIGINT, event::signal::SIGTERM])?;
        let report = event_hyper::Server::new(listener)
            .shutdown(&shutdown)
            .drain_timeout(Duration::from_secs(10))
            .serve_tower(app())
            .await;
        println!("{report}");
        Ok(())
    })
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum: {e}");
            ExitCode::FAILURE
        }
    }
}
