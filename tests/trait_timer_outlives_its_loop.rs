//! A socket whose trait-level read keeps its timer armed between waits (the socket's default
//! timeout) can outlive its loop: used in a later loop it fails at once (no hang on the ended
//! loop's timer, which never fires again), and dropped afterwards, outside any loop, it
//! releases the timer without a panic.
mod common;

use std::future::poll_fn;
use std::io::Write;
use std::pin::Pin;
use std::time::{Duration, Instant};

use event::Socket;
use futures_io::AsyncRead;

async fn trait_read(mut socket: &Socket) -> std::io::Result<usize> {
    let mut buf = [0u8; 16];
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, &mut buf)).await
}

#[test]
fn a_socket_with_a_kept_trait_timer_fails_clearly_in_a_later_loop_and_drops_cleanly() {
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let (socket, peer) = event::run(async move {
        let server = common::listen_local();
        let addr = server.local_address().to_std();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            s.write_all(b"x").unwrap();
            let _ = done_rx.recv_timeout(Duration::from_secs(5));
        });
        let socket = server.accept().await.unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(2)));
        // Waits (arming a timer 2 s ahead), then completes: the timer stays armed.
        assert!(matches!(trait_read(&socket).await, Ok(1)));
        (socket, peer)
    });
    let start = Instant::now();
    let err = common::run(async { trait_read(&socket).await.unwrap_err() });
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "waited {:?} on an ended loop: {err}",
        start.elapsed()
    );
    drop(socket);
    let _ = done.send(());
    peer.join().unwrap();
}
