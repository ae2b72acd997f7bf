//! Reference echo server: tokio current-thread runtime, one task per connection. `--udp`: one
//! task echoing datagrams (`recv_from` + `send_to`); `--path PATH`: stream echo over a
//! Unix-domain socket (the TCP code with a `UnixListener`).
use event_bench::Listen;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    rt.block_on(async move {
        match event_bench::server_listen() {
            Listen::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
                loop {
                    match listener.accept().await {
                        Ok((sock, _)) => {
                            let _ = sock.set_nodelay(true);
                            tokio::spawn(echo(sock));
                        }
                        Err(e) => eprintln!("accept: {e}"),
                    }
                }
            }
            Listen::Unix(path) => {
                let listener = tokio::net::UnixListener::bind(path).expect("bind");
                loop {
                    match listener.accept().await {
                        Ok((sock, _)) => {
                            tokio::spawn(echo(sock));
                        }
                        Err(e) => eprintln!("accept: {e}"),
                    }
                }
            }
            Listen::Udp(addr) => {
                let sock = tokio::net::UdpSocket::bind(addr).await.expect("bind");
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
    });
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
