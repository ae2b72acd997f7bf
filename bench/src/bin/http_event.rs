//! `--http` server "ours": event-hyper's `Server` (HTTP/1.1 + HTTP/2 auto, its default timeouts
//! and limits) with the bench handler, on one event loop. The driver comes from `EVENT_BACKEND`
//! (the harness runs it as `ours_epoll` and `ours_uring`).
use event::{ListenOptions, Shutdown};
use hyper::service::service_fn;
use std::process::ExitCode;

fn main() -> ExitCode {
    let addr = event_bench::server_addr();
    let r = event::run(async move {
        let listener = ListenOptions::new().nodelay(true).listen_on(addr)?;
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signals(&[event::signal::SIGINT, event::signal::SIGTERM])?;
        println!("http_event listening on {} (backend: {})", listener.local_address(), event::backend());
        // Without upgrades, as hyper_tokio serves (`serve_connection`, not `_with_upgrades`).
        event_hyper::Server::new(listener).shutdown(&shutdown).upgrades(false).serve(service_fn(event_bench::http::handler::handle)).await;
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_event: {e}");
            ExitCode::FAILURE
        }
    }
}
