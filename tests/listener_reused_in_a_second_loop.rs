//! A listener outlives the loop it accepted on: made once, it accepts in one `event::run`, then
//! in the next (it used to wait forever on the first loop's reactor, so the second loop's accept
//! ended in `Elapsed`), and back on the first loop if that one runs again; on either driver and
//! from one to the other.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use event::{EventLoop, ServerSocket};

const LIMIT: Duration = Duration::from_secs(5);

/// A client connected (through the kernel's backlog) before the loop that accepts it runs.
fn client(server: &ServerSocket) -> TcpStream {
    let addr: std::net::SocketAddr = server.local_address().into();
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c
}

/// On `lp`: accepts the next connection and echoes one message; the client checks the echo.
fn accept_and_echo(lp: &EventLoop, server: &ServerSocket, round: u8) {
    let mut c = client(server);
    c.write_all(&[b'a' + round; 5]).unwrap();
    // One limit on the whole round: a socket accepted through another loop's reactor would
    // wait there for ever, timeouts included.
    lp.block_on(event::timeout(LIMIT, async {
        let peer = server.accept().await.unwrap();
        let bytes = peer.read(64).await.unwrap();
        peer.write(&bytes).await.unwrap();
    }))
    .unwrap_or_else(|_| panic!("round {round}: no accept and echo within {LIMIT:?}"));
    let mut back = [0u8; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, [b'a' + round; 5], "round {round}");
}

#[test]
fn a_listener_accepts_in_a_second_loop_after_the_first_is_dropped() {
    for first in common::drivers() {
        for second in common::drivers() {
            let server = common::listen_local();
            accept_and_echo(&common::event_loop(first), &server, 0);
            accept_and_echo(&common::event_loop(second), &server, 1);
        }
    }
}

#[test]
fn a_listener_goes_back_and_forth_between_two_live_loops() {
    for first in common::drivers() {
        for second in common::drivers() {
            let (a, b) = (common::event_loop(first), common::event_loop(second));
            let server = common::listen_local();
            for round in 0..4 {
                let lp = if round % 2 == 0 { &a } else { &b };
                accept_and_echo(lp, &server, round);
            }
        }
    }
}

#[test]
fn event_run_twice_with_one_listener() {
    // The shape: two `event::run` in sequence (on the driver EVENT_BACKEND names), the
    // accept waiting before the client connects.
    let server = common::listen_local();
    for round in 0..2u8 {
        event::run(event::timeout(LIMIT, async {
            let connect = async {
                event::sleep(Duration::from_millis(20)).await;
                event::Socket::connect(server.local_address()).await
            };
            let (peer, client) = common::join(server.accept(), connect).await;
            peer.unwrap().write(&[round]).await.unwrap();
            assert_eq!(client.unwrap().read(1).await.unwrap(), [round]);
        }))
        .unwrap_or_else(|_| panic!("run {round}: no accept within {LIMIT:?}"));
    }
}

#[test]
fn a_connections_stream_left_waiting_on_one_loop_serves_the_next() {
    for first in common::drivers() {
        for second in common::drivers() {
            let server = common::listen_local();
            let mut connections = server.connections();
            // Loop one: the stream waits (a waiter on loop one's reactor), and gives up.
            common::event_loop(first).block_on(async {
                let r = event::timeout(Duration::from_millis(30), connections.next()).await;
                assert!(r.is_err(), "nobody connected, yet: {r:?}");
            });
            // Loop two: the same stream gets the next client.
            let mut c = client(&server);
            common::event_loop(second).block_on(async {
                let peer = event::timeout(LIMIT, connections.next())
                    .await
                    .expect("accept on the second loop")
                    .expect("the stream goes on")
                    .unwrap();
                peer.write(b"two").await.unwrap();
            });
            let mut b = [0u8; 3];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"two");
        }
    }
}
