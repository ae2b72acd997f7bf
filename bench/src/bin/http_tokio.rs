//! `--http` reference server `hyper_tokio`: hyper 1 on tokio's current-thread runtime, a task
//! per connection, hyper-util's auto (HTTP/1.1 + HTTP/2) connection configured as event-hyper's
//! `Server` is (timer, 10 s header-read timeout, half-close, 64 KiB head limit, 2 MiB body
//! limit, TCP_NODELAY), with the same handler as ours.
use event_bench::http::handler::handle_limited;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;

fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).half_close(true).max_buf_size(64 * 1024);
    b.http2().timer(TokioTimer::new()).max_header_list_size(64 * 1024);
    b
}

fn main() {
    let addr = event_bench::server_addr();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let builder = Arc::new(builder());
        loop {
            let (sock, _) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let builder = builder.clone();
            tokio::spawn(async move {
                let _ = builder.serve_connection(TokioIo::new(sock), service_fn(handle_limited)).await;
            });
        }
    });
}
