//! Reference echo server: monoio (thread-per-core, io_uring driver), single thread. `--udp`:
//! one task echoing datagrams (monoio's `recv_from` / `send_to`: a recvmsg and a sendmsg per
//! datagram through the ring).
use event_bench::Listen;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::udp::UdpSocket;
use monoio::net::TcpListener;

fn main() {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build().expect("monoio: io_uring runtime failed to start");
    rt.block_on(async move {
        match event_bench::server_listen() {
            Listen::Tcp(addr) => serve_tcp(TcpListener::bind(addr).expect("bind")).await,
            Listen::Udp(addr) => serve_udp(UdpSocket::bind(addr).expect("bind")).await,
            Listen::Unix(_) => panic!("monoio: no Unix-domain echo here"),
        }
    });
}

async fn serve_udp(sock: UdpSocket) {
    let mut buf: Vec<u8> = Vec::with_capacity(event_bench::MAX_DATAGRAM);
    loop {
        let (res, b) = sock.recv_from(buf).await;
        buf = b;
        match res {
            Ok((_, from)) => {
                let (res, b) = sock.send_to(buf, from).await;
                buf = b;
                if let Err(e) = res {
                    eprintln!("send_to: {e}");
                }
            }
            Err(e) => eprintln!("recv_from: {e}"),
        }
        buf.clear();
    }
}

async fn serve_tcp(listener: TcpListener) {
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
}
