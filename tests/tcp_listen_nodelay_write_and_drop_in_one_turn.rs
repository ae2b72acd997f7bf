//! A connection from a `ListenOptions::nodelay` listener that is accepted, written and dropped
//! without the loop waiting in between (on io_uring its `SetSockOpt`, its send and its `Close`
//! all queued in that one turn, in that order) still delivers its bytes whole, then end of
//! stream, and the listener goes on setting the option on the connections after it.
mod common;

use std::io::Read;
use std::time::Duration;

use event::{ListenOptions, Socket};

#[test]
fn accepted_written_and_dropped_in_one_turn_delivers_then_closes() {
    let server = ListenOptions::new()
        .nodelay(true)
        .listen_on("127.0.0.1:0")
        .unwrap();
    let addr: std::net::SocketAddr = server.local_address().into();
    let clients = std::thread::spawn(move || {
        for i in 0..50u8 {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            assert_eq!(got, [i; 100], "connection {i}");
        }
    });
    common::run(async move {
        for i in 0..50u8 {
            let accepted = server.accept().await.unwrap();
            accepted.write(&[i; 100]).await.unwrap();
            drop(accepted);
        }
        // The option is still set by the listener afterwards.
        let client = Socket::connect(server.local_address()).await.unwrap();
        let last = server.accept().await.unwrap();
        last.write(b"x").await.unwrap();
        assert_eq!(client.read(8).await.unwrap(), b"x");
        assert!(socket2::SockRef::from(&last).tcp_nodelay().unwrap());
    });
    clients.join().unwrap();
}
