//! A dropped socket's descriptor is closed: on io_uring by a `Close` entry that goes with the
//! loop's next wait, or at once when the loop does not run. The count of open descriptors
//! (/proc/self/fd) stays flat over churn, and a peer sees end of stream promptly whether the
//! socket is dropped in the loop's last turn or outside the loop.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use event::{Backend, ServerSocket, SocketError};

/// The tests count the whole process's descriptors: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A client that sends `bytes`, reads them back, and closes; returns nothing but panics on a
/// short echo.
fn echo_client(addr: std::net::SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut back = vec![0u8; bytes.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

/// Serves `n` connections one after another (64 B echoed, then the socket dropped at the
/// client's end of stream) on `lp`.
fn serve(lp: &event::EventLoop, server: &ServerSocket, n: usize) {
    let addr: std::net::SocketAddr = server.local_address().into();
    let clients = std::thread::spawn(move || {
        for _ in 0..n {
            echo_client(addr, &[7u8; 64]);
        }
    });
    lp.block_on(async {
        for _ in 0..n {
            let conn = server.accept().await.unwrap();
            let mut buf = Vec::new();
            loop {
                match conn.read_buf(&mut buf, 4096).await {
                    Ok(_) => {
                        let (sent, back) = conn.write_owned(std::mem::take(&mut buf)).await;
                        sent.unwrap();
                        buf = back;
                    }
                    Err(SocketError::ConnectionClosed) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    clients.join().unwrap();
}

#[test]
fn churn_leaves_the_count_of_open_descriptors_flat() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for backend in common::drivers() {
        let lp = common::event_loop(backend);
        let server = common::listen_local();
        // Warm-up: the listener's registration, the loop's tables.
        serve(&lp, &server, 5);
        let before = open_fds();
        serve(&lp, &server, 300);
        // The loop is kept (not dropped): what its last turn queued was submitted on return.
        assert_eq!(
            open_fds(),
            before,
            "{backend:?}: descriptors leaked over churn"
        );
    }
}

/// Reads from `client` until end of stream (bytes before it are allowed), failing after 5 s.
fn sees_end_of_stream(client: &mut TcpStream) -> bool {
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

fn accept_one(lp: &event::EventLoop, backend: Backend) -> (event::Socket, TcpStream) {
    let server = common::listen_local();
    let client = TcpStream::connect(std::net::SocketAddr::from(server.local_address())).unwrap();
    let conn = lp.block_on(server.accept());
    (conn.unwrap_or_else(|e| panic!("{backend:?}: {e}")), client)
}

#[test]
fn a_socket_dropped_in_the_last_turn_is_closed_when_block_on_returns() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for backend in common::drivers() {
        let lp = common::event_loop(backend);
        let (conn, mut client) = accept_one(&lp, backend);
        lp.block_on(async move {
            conn.write(b"bye").await.unwrap();
            drop(conn);
        });
        // The loop does not run again while the client waits.
        assert!(
            sees_end_of_stream(&mut client),
            "{backend:?}: no end of stream"
        );
        drop(lp);
    }
}

#[test]
fn a_socket_dropped_outside_the_loop_is_closed_at_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for backend in common::drivers() {
        let lp = common::event_loop(backend);
        let (conn, mut client) = accept_one(&lp, backend);
        let before = open_fds();
        drop(conn);
        assert_eq!(
            open_fds(),
            before - 1,
            "{backend:?}: the descriptor is still open"
        );
        assert!(
            sees_end_of_stream(&mut client),
            "{backend:?}: no end of stream"
        );
        drop(lp);
    }
}

#[test]
fn dropping_the_loop_closes_the_sockets_of_its_tasks() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for backend in common::drivers() {
        let before = open_fds();
        let lp = common::event_loop(backend);
        let server = common::listen_local();
        let addr = std::net::SocketAddr::from(server.local_address());
        let mut clients: Vec<TcpStream> =
            (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
        lp.block_on(async {
            for _ in 0..20 {
                let conn = server.accept().await.unwrap();
                // Each task waits on its read forever: the loop's drop cancels it.
                event::spawn(async move { conn.read(16).await.map(drop) });
            }
            event::yield_now().await;
        });
        drop(server);
        drop(lp);
        for c in &mut clients {
            assert!(
                sees_end_of_stream(c),
                "{backend:?}: a task's socket stayed open"
            );
        }
        drop(clients);
        assert_eq!(
            open_fds(),
            before,
            "{backend:?}: descriptors leaked by the loop's drop"
        );
    }
}
