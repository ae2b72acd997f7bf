//! A write that times out while it holds the write turn hands the turn to the write queued
//! behind it: the peer sees exactly the bytes the first write reported as written, then the
//! whole second write, never a mix; and the second write neither starts early nor hangs.

mod common;

use std::io::Read as _;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use event::{Socket, SocketAddress, SocketError};

const FIRST: usize = 4 * 1024 * 1024;
const SECOND: usize = 1024 * 1024;

/// Reads exactly `n` bytes (a blocking std peer, on its own thread).
fn read_exactly(client: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut out = vec![0; n];
    client.read_exact(&mut out).unwrap();
    out
}

fn run_scenario(owned: bool) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (written_tx, written_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        common::run(async move {
            let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            addr_tx.send(listener.local_address()).unwrap();
            let peer = Rc::new(listener.accept().await.unwrap());
            socket2::SockRef::from(&*peer)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let first = common::pattern(FIRST, 11);
            let second = common::pattern(SECOND, 12);
            let started = Rc::new(std::cell::Cell::new(false));
            let w1 = {
                let peer = peer.clone();
                event::spawn(async move {
                    match peer.write(&first).timeout(Duration::from_millis(300)).await {
                        Err(SocketError::WriteTimeout { written, .. }) => written,
                        other => panic!("the first write should time out: {other:?}"),
                    }
                })
            };
            event::sleep(Duration::from_millis(50)).await;
            let w2 = {
                let (peer, started) = (peer.clone(), started.clone());
                event::spawn(async move {
                    started.set(true);
                    if owned {
                        peer.write_owned(second).await.0.unwrap();
                    } else {
                        peer.write(&second).await.unwrap();
                    }
                })
            };
            let written = w1.await.unwrap();
            assert!(
                started.get(),
                "the second write was queued before the timeout"
            );
            assert!(written > 0 && written < FIRST, "written {written}");
            written_tx.send(written).unwrap();
            event::timeout(Duration::from_secs(30), w2)
                .await
                .expect("the queued write never finished")
                .unwrap();
        })
    });
    let addr: std::net::SocketAddr = addr_rx.recv().unwrap().into();
    let mut client = {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(32 * 1024).unwrap();
        s.connect(&addr.into()).unwrap();
        std::net::TcpStream::from(s)
    };
    let written = written_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the first write never timed out");
    let got = read_exactly(&mut client, written + SECOND);
    let first = common::pattern(FIRST, 11);
    let second = common::pattern(SECOND, 12);
    assert!(
        got[..written] == first[..written],
        "the first {written} bytes are not the first write's"
    );
    assert!(
        got[written..] == second[..],
        "the second write does not follow the first write's {written} bytes whole"
    );
    server.join().unwrap();
}

#[test]
fn a_timed_out_write_is_followed_by_the_queued_write_whole() {
    run_scenario(false);
}

#[test]
fn a_timed_out_write_is_followed_by_the_queued_owned_write_whole() {
    run_scenario(true);
}
