//! Reference echo server: monoio (thread-per-core, io_uring driver), single thread.
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpListener;

fn main() {
    let addr = event_bench::server_addr();
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build().expect("monoio: io_uring runtime failed to start");
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).expect("bind");
        loop {
            let (sock, _) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            monoio::spawn(async move {
                let mut sock = sock;
                let mut buf: Vec<u8> = Vec::with_capacity(event_bench::BUF_SIZE);
                loop {
                    let (res, b) = sock.read(buf).await;
                    buf = b;
                    match res {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let (res, b) = sock.write_all(buf).await;
                    buf = b;
                    if res.is_err() {
                        return;
                    }
                    buf.clear();
                }
            });
        }
    });
}
