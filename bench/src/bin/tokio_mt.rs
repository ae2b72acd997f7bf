//! Reference echo server: tokio multi-thread runtime, one task per connection.
//! `--workers N` sets the worker threads (default 1: the single-core comparison;
//! the harness's `--multicore N` passes N).
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let addr = event_bench::server_addr();
    let workers: usize = match event_bench::arg_value("workers") {
        None => 1,
        Some(v) => match v.parse() {
            Ok(n) if n >= 1 => n,
            _ => {
                eprintln!("bad --workers {v:?}: expected an integer >= 1");
                std::process::exit(2)
            }
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_io().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        loop {
            let (mut sock, _) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; event_bench::BUF_SIZE];
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if sock.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}
