//! Client-side connection churn on our loop: `--count` connections one after another, each
//! `Socket::connect`, 64 B written and read back, closed (the server is any echo, e.g. the
//! echo example on epoll). The client's cost per connection comes from two runs under
//! callgrind or strace with different counts (the difference cancels the start-up):
//!
//!   connect_churn --addr 127.0.0.1:PORT --count N [--backend epoll|io_uring]
//!
//! Prints `connections=N`; exit status 1 on any error or a wrong echo.
use event::{Backend, EventLoop, Socket};

fn main() {
    let addr = event_bench::server_addr();
    let count: usize = event_bench::arg_value("count").map(|v| v.parse().expect("--count")).unwrap_or(1000);
    let backend = match event_bench::arg_value("backend").as_deref() {
        Some("epoll") => Backend::Epoll,
        Some("io_uring") => Backend::IoUring,
        _ => Backend::Auto,
    };
    let lp = EventLoop::builder().backend(backend).build().expect("event loop");
    let done = lp.block_on(async {
        let msg = [0x5au8; 64];
        for i in 0..count {
            let s = Socket::connect(addr).await.map_err(|e| format!("connect {i}: {e}"))?;
            s.write(&msg).await.map_err(|e| format!("write {i}: {e}"))?;
            let mut got = Vec::with_capacity(64);
            while got.len() < msg.len() {
                let want = msg.len() - got.len();
                if s.read_buf(&mut got, want).await.map_err(|e| format!("read {i}: {e}"))? == 0 {
                    return Err(format!("read {i}: end of stream after {} bytes", got.len()));
                }
            }
            if got != msg {
                return Err(format!("connection {i}: wrong echo"));
            }
        }
        Ok::<usize, String>(count)
    });
    match done {
        Ok(n) => println!("connections={n}"),
        Err(e) => {
            eprintln!("connect_churn: {e}");
            std::process::exit(1)
        }
    }
}
