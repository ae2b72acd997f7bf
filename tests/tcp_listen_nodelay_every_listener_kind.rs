//! `ListenOptions::nodelay` holds wherever the listener accepts: a listener served by one loop
//! and then by another (each loop's driver sets the option for the connections it accepts),
//! every loop of `PerCore` (each has its own listener, made from the same options), and an
//! IPv6 listener (bound to the IPv4-mapped loopback, so traffic stays on 127.0.0.1).
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use event::{EventLoop, ListenOptions, PerCore, ServerSocket, Socket};

const LIMIT: Duration = Duration::from_secs(5);

fn nodelay(socket: &Socket) -> bool {
    socket2::SockRef::from(socket).tcp_nodelay().unwrap()
}

/// Accepts one connection on the running loop, answers its byte and reports the option (read
/// once the answer has gone out, and at once after accept on epoll).
async fn accept_answer(server: &ServerSocket) -> bool {
    let peer = server.accept().await.unwrap();
    let bytes = peer.read(16).await.unwrap();
    peer.write(&bytes).await.unwrap();
    event::sleep(Duration::from_millis(2)).await;
    nodelay(&peer)
}

fn client(server: &ServerSocket) -> TcpStream {
    let addr: std::net::SocketAddr = server.local_address().into();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.write_all(b"x").unwrap();
    c
}

#[test]
fn a_listener_served_by_two_loops_in_turn_sets_it_on_each() {
    let server = ListenOptions::new()
        .nodelay(true)
        .listen_on("127.0.0.1:0")
        .unwrap();
    let first = EventLoop::new().unwrap();
    let second = EventLoop::new().unwrap();
    for (round, lp) in [&first, &second, &first].into_iter().enumerate() {
        let mut c = client(&server);
        let on = lp
            .block_on(event::timeout(LIMIT, accept_answer(&server)))
            .unwrap_or_else(|_| panic!("round {round}: no accept within {LIMIT:?}"));
        let mut back = [0u8; 1];
        c.read_exact(&mut back).unwrap();
        assert!(on, "round {round} on {}", lp.backend());
    }
}

#[test]
fn every_per_core_loop_sets_it() {
    let options = ListenOptions::new().nodelay(true);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let results = PerCore::new().threads(2).listen(
        &options,
        event::SocketAddress::localhost(port),
        |server, _ctx| async move {
            assert!(server.nodelay());
            // Each loop connects to itself: SO_REUSEPORT may hand the connection to either
            // listener, so each loop accepts until its own listener has given it one.
            let client = Socket::connect(server.local_address()).await.unwrap();
            client.write(b"x").await.unwrap();
            let on = event::timeout(Duration::from_millis(500), accept_answer(&server)).await;
            drop(client);
            on.ok()
        },
    );
    let results = results.unwrap();
    let mut accepted = 0;
    for r in results {
        if let Some(on) = r.unwrap() {
            assert!(on, "a PerCore loop's connection has no TCP_NODELAY");
            accepted += 1;
        }
    }
    assert!(accepted >= 1, "no loop accepted");
}

#[test]
fn an_ipv6_listener_sets_it() {
    let server = ListenOptions::new()
        .nodelay(true)
        .listen_on("[::ffff:127.0.0.1]:0")
        .unwrap();
    assert!(server.local_address().is_ipv6());
    common::run(async move {
        for i in 0..3 {
            let client = Socket::connect(server.local_address()).await.unwrap();
            client.write(b"x").await.unwrap();
            assert!(accept_answer(&server).await, "connection {i}");
            assert_eq!(client.read(16).await.unwrap(), b"x");
        }
    });
}
