//! Reference echo server: async-executor LocalExecutor + async-io (the smol stack), single
//! thread. `--udp`: one task echoing datagrams; `--path PATH`: stream echo over a Unix-domain
//! socket.
use async_io::Async;
use event_bench::Listen;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;

fn main() {
    let ex = async_executor::LocalExecutor::new();
    async_io::block_on(ex.run(async {
        match event_bench::server_listen() {
            Listen::Tcp(addr) => {
                let listener = Async::<TcpListener>::bind(addr).expect("bind");
                loop {
                    match listener.accept().await {
                        Ok((sock, _)) => {
                            let _ = sock.get_ref().set_nodelay(true);
                            ex.spawn(echo(sock)).detach();
                        }
                        Err(e) => eprintln!("accept: {e}"),
                    }
                }
            }
            Listen::Unix(path) => {
                let listener = Async::<UnixListener>::bind(path).expect("bind");
                loop {
                    match listener.accept().await {
                        Ok((sock, _)) => ex.spawn(echo(sock)).detach(),
                        Err(e) => eprintln!("accept: {e}"),
                    }
                }
            }
            Listen::Udp(addr) => {
                let sock = Async::<UdpSocket>::bind(addr).expect("bind");
                let mut buf = vec![0u8; event_bench::MAX_DATAGRAM];
                loop {
                    match sock.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            if let Err(e) = sock.send_to(&buf[..n], from).await {
                                eprintln!("send_to: {e}");
                            }
                        }
                        Err(e) => eprintln!("recv_from: {e}"),
                    }
                }
            }
        }
    }));
}

/// Echoes one connection until it ends.
async fn echo(mut sock: impl AsyncRead + AsyncWrite + Unpin) {
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
}
