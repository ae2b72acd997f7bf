//! Reference echo server: async-executor LocalExecutor + async-io (the smol stack), single thread.
use async_io::Async;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::net::TcpListener;

fn main() {
    let addr = event_bench::server_addr();
    let ex = async_executor::LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let listener = Async::<TcpListener>::bind(addr).expect("bind");
        loop {
            let (mut sock, _) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = sock.get_ref().set_nodelay(true);
            ex.spawn(async move {
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
            })
            .detach();
        }
    }));
}
