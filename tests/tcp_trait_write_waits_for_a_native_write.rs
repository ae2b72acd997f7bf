//! `AsyncWrite` calls on `&Socket` from one task while a native write from another task is
//! mid-way: the trait calls wait for the turn, so the native write goes out whole and the
//! trait bytes follow it, unmixed; nobody hangs. And the other way round: a native write that
//! comes while a task is in a trait `write_all` loop takes its place between two calls, never
//! inside one.

mod common;

use std::io::Read as _;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use event::{Socket, SocketAddress};
use futures_io::AsyncWrite;

const NATIVE: usize = 4 * 1024 * 1024;
const TRAIT: usize = 512 * 1024;

/// `write_all` then `flush` through the futures-io trait on `&Socket`.
async fn trait_write_all(socket: &Socket, mut buf: &[u8]) -> std::io::Result<()> {
    let mut w = socket;
    while !buf.is_empty() {
        let n = std::future::poll_fn(|cx| Pin::new(&mut w).poll_write(cx, buf)).await?;
        assert!(n > 0);
        buf = &buf[n..];
    }
    std::future::poll_fn(|cx| Pin::new(&mut w).poll_flush(cx)).await
}

fn slow_peer(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(32 * 1024).unwrap();
    s.connect(&addr.into()).unwrap();
    let s = std::net::TcpStream::from(s);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn trait_writes_wait_for_a_native_write_mid_way_and_follow_it_whole() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        common::run(async move {
            let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            addr_tx.send(listener.local_address()).unwrap();
            let peer = Rc::new(listener.accept().await.unwrap());
            socket2::SockRef::from(&*peer)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let native = {
                let peer = peer.clone();
                event::spawn(async move { peer.write(&common::pattern(NATIVE, 21)).await })
            };
            // The native write is mid-way (the peer reads slowly) when the trait calls begin.
            event::sleep(Duration::from_millis(50)).await;
            assert!(!native.is_finished(), "the native write should be mid-way");
            let traits = {
                let peer = peer.clone();
                event::spawn(
                    async move { trait_write_all(&peer, &common::pattern(TRAIT, 22)).await },
                )
            };
            let bound = Duration::from_secs(30);
            event::timeout(bound, native)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            event::timeout(bound, traits)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        })
    });
    let mut client = slow_peer(addr_rx.recv().unwrap().into());
    // A slow start, so the native write is still going when the trait calls come.
    std::thread::sleep(Duration::from_millis(200));
    let mut got = vec![0; NATIVE + TRAIT];
    client.read_exact(&mut got).unwrap();
    assert!(
        got[..NATIVE] == common::pattern(NATIVE, 21)[..],
        "the native write was cut into by the trait writes"
    );
    assert!(
        got[NATIVE..] == common::pattern(TRAIT, 22)[..],
        "the trait bytes do not follow the native write whole"
    );
    server.join().unwrap();
}

#[test]
fn a_native_write_between_trait_calls_goes_out_whole() {
    // The trait loop's calls are 64 KiB at most each; the native write must land between two
    // of them, whole. The stream is: a prefix of the trait bytes, the native bytes whole, the
    // rest of the trait bytes.
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        common::run(async move {
            let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            addr_tx.send(listener.local_address()).unwrap();
            let peer = Rc::new(listener.accept().await.unwrap());
            socket2::SockRef::from(&*peer)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let traits = {
                let peer = peer.clone();
                event::spawn(
                    async move { trait_write_all(&peer, &common::pattern(NATIVE, 31)).await },
                )
            };
            event::sleep(Duration::from_millis(50)).await;
            assert!(!traits.is_finished(), "the trait loop should be mid-way");
            let native = {
                let peer = peer.clone();
                event::spawn(async move { peer.write(&common::pattern(TRAIT, 32)).await })
            };
            let bound = Duration::from_secs(30);
            event::timeout(bound, traits)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            event::timeout(bound, native)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        })
    });
    let mut client = slow_peer(addr_rx.recv().unwrap().into());
    std::thread::sleep(Duration::from_millis(200));
    let mut got = vec![0; NATIVE + TRAIT];
    client.read_exact(&mut got).unwrap();
    let trait_bytes = common::pattern(NATIVE, 31);
    let native = common::pattern(TRAIT, 32);
    // Where the native write starts: the first byte that departs from the trait bytes.
    let at = got
        .iter()
        .zip(&trait_bytes)
        .position(|(a, b)| a != b)
        .unwrap_or(NATIVE);
    // The pattern may agree with the native bytes' first few by chance: find the true start.
    let start = (at.saturating_sub(8)..=at)
        .find(|&s| got[s..].starts_with(&native))
        .unwrap_or_else(|| panic!("the native write is not whole at {at}"));
    assert!(
        got[start + TRAIT..] == trait_bytes[start..],
        "the trait bytes do not resume after the native write"
    );
    server.join().unwrap();
}
