//! The timer a trait-level read or write keeps armed between waits (the socket's default
//! timeout) belongs to the socket: it leaves the loop's wheel when the socket is dropped, and
//! when the socket's timeout is turned off (a socket without a timeout holds no timer, and
//! wakes nobody later).
mod common;

use std::future::poll_fn;
use std::io::Write;
use std::pin::Pin;
use std::time::Duration;

use event::{EventLoop, Socket};
use futures_io::{AsyncRead, AsyncWrite};

async fn trait_read(mut socket: &Socket) -> std::io::Result<usize> {
    let mut buf = [0u8; 16];
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, &mut buf)).await
}

async fn trait_write_flush(mut socket: &Socket, bytes: &[u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        done += poll_fn(|cx| Pin::new(&mut socket).poll_write(cx, &bytes[done..])).await?;
    }
    poll_fn(|cx| Pin::new(&mut socket).poll_flush(cx)).await
}

/// A loop of the driver `EVENT_BACKEND` names (no timer of the test's own on it).
fn new_loop() -> EventLoop {
    EventLoop::builder().build().unwrap()
}

/// Connects a std peer that sends `bytes` bytes, one every 30 ms, reads everything it gets,
/// and closes its side 500 ms after its last byte.
fn peer(addr: std::net::SocketAddr, bytes: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let reader = s.try_clone().unwrap();
        let drain = std::thread::spawn(move || {
            let _ = std::io::copy(&mut { reader }, &mut std::io::sink());
        });
        for _ in 0..bytes {
            std::thread::sleep(Duration::from_millis(30));
            if s.write_all(b"x").is_err() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        drop(s);
        let _ = drain.join();
    })
}

#[test]
fn dropping_the_socket_releases_its_trait_timers() {
    let lp = new_loop();
    lp.block_on(async {
        let baseline = lp.stats().timers;
        let server = common::listen_local();
        let peer = peer(server.local_address().to_std(), 2);
        let client = server.accept().await.unwrap();
        client.set_read_timeout(Some(Duration::from_secs(30)));
        client.set_write_timeout(Some(Duration::from_secs(30)));
        assert!(matches!(trait_read(&client).await, Ok(1)));
        trait_write_flush(&client, &[7u8; 256 * 1024])
            .await
            .unwrap();
        assert!(matches!(trait_read(&client).await, Ok(1)));
        drop(client);
        assert_eq!(
            lp.stats().timers,
            baseline,
            "a dropped socket left timers armed"
        );
        drop(server);
        peer.join().unwrap();
    });
}

#[test]
fn turning_the_read_timeout_off_releases_the_trait_timer() {
    let lp = new_loop();
    lp.block_on(async {
        let baseline = lp.stats().timers;
        let server = common::listen_local();
        let peer = peer(server.local_address().to_std(), 2);
        let client = server.accept().await.unwrap();
        client.set_read_timeout(Some(Duration::from_secs(30)));
        // A read that waits (arming the timer), under the timeout.
        assert!(matches!(trait_read(&client).await, Ok(1)));
        // Without a timeout from here on: this read waits with no timer, and after it the
        // socket holds none.
        client.set_read_timeout(None);
        assert!(matches!(trait_read(&client).await, Ok(1)));
        assert_eq!(
            lp.stats().timers,
            baseline,
            "a socket whose read timeout is off still holds a timer"
        );
        drop(client);
        drop(server);
        peer.join().unwrap();
    });
}

#[test]
fn turning_the_write_timeout_off_releases_the_trait_timer() {
    let lp = new_loop();
    lp.block_on(async {
        let baseline = lp.stats().timers;
        let server = common::listen_local();
        let peer = peer(server.local_address().to_std(), 0);
        let client = server.accept().await.unwrap();
        socket2::SockRef::from(&client)
            .set_send_buffer_size(32 * 1024)
            .unwrap();
        client.set_write_timeout(Some(Duration::from_secs(30)));
        // Far more than the buffers hold: the writes wait for the peer (arming the timer).
        trait_write_flush(&client, &vec![1u8; 1024 * 1024])
            .await
            .unwrap();
        client.set_write_timeout(None);
        trait_write_flush(&client, &vec![2u8; 128 * 1024])
            .await
            .unwrap();
        assert_eq!(
            lp.stats().timers,
            baseline,
            "a socket whose write timeout is off still holds a timer"
        );
        drop(client);
        drop(server);
        peer.join().unwrap();
    });
}
