//! io_uring's table of registered files (a connection's socket goes in it at its second send):
//! each connection carries exactly its own bytes while slots are taken and reused, and a
//! dropped socket still closes (the peer sees end of stream or a reset, no descriptor leaks).
//! The same behaviours hold on epoll, which has no table: the tests run on the driver
//! `EVENT_BACKEND` names, like the rest of the suite.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use event::{Backend, Builder, EventLoop, Socket};

/// The tests count the whole process's descriptors: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A loop on the driver `EVENT_BACKEND` names, made by `builder`.
fn test_loop(builder: Builder) -> EventLoop {
    let backend = Backend::from_env().expect("EVENT_BACKEND names a driver");
    builder.backend(backend).build().expect("the loop")
}

/// `n` connected pairs on the running loop, one after another, each echoing three messages of
/// `size` bytes through its table slots before it is dropped.
async fn pairs_come_and_go(n: usize, size: usize) {
    for _ in 0..n {
        let (a, b) = common::pair().await;
        for m in 0..3u8 {
            a.write(&vec![m; size]).await.unwrap();
            assert_eq!(common::read_exact(&b, size).await.unwrap(), vec![m; size]);
        }
    }
}

/// Runs `f` on `lp`, failing instead of hanging after 60 s.
fn block_on<F: std::future::Future>(lp: &EventLoop, f: F) -> F::Output {
    lp.block_on(event::timeout(Duration::from_secs(60), f))
        .expect("the test's loop part ends within 60 s")
}

/// Reads everything until end of stream; `Err` if the connection was reset (or timed out).
fn read_to_end(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut all = Vec::new();
    client.read_to_end(&mut all)?;
    Ok(all)
}

fn accept(lp: &EventLoop, server: &event::ServerSocket) -> (Socket, TcpStream) {
    let client = TcpStream::connect(std::net::SocketAddr::from(server.local_address())).unwrap();
    let conn = block_on(lp, server.accept()).unwrap();
    (conn, client)
}

/// Many connections at once, both ends on the loop, each exchanging several messages of
/// different sizes (so both ends take slots) and closing in a scattered order, over several
/// rounds (so slots are reused while other connections' sends are in flight): every echo is
/// exactly its own connection's bytes.
#[test]
fn every_connection_gets_exactly_its_own_bytes_while_slots_are_reused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    let lp = test_loop(EventLoop::builder());
    block_on(&lp, async {
        let addr = common::spawn_echo_server();
        let mut handles = Vec::new();
        for task in 0..48u64 {
            handles.push(event::spawn(async move {
                for round in 0..6u64 {
                    let client = Socket::connect(addr).await.unwrap();
                    let exchanges = 2 + (task + round) % 4;
                    for i in 0..exchanges {
                        let len = [100, 3000, 70_000, 10][((task + i) % 4) as usize];
                        let seed = task * 1000 + round * 10 + i;
                        let message = common::pattern(len, seed);
                        client.write(&message).await.unwrap();
                        let echoed = common::read_exact(&client, len).await.unwrap();
                        assert!(
                            echoed == message,
                            "task {task} round {round} exchange {i}: another connection's bytes"
                        );
                    }
                    if (task + round) % 3 == 0 {
                        event::yield_now().await;
                    }
                    drop(client);
                }
            }));
        }
        for h in handles {
            h.await.expect("a client task failed");
        }
    });
    // Let the echo tasks see their ends of stream and drop their sockets.
    block_on(&lp, event::sleep(Duration::from_millis(200)));
    drop(lp);
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// A socket dropped in the same turn as its second send (the `FilesUpdate` that puts it in the
/// table is still queued): the peer gets both messages, then end of stream; nothing leaks.
#[test]
fn a_socket_dropped_right_after_its_second_send_delivers_both_then_end_of_stream() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    // Warm-up: the listener's registration, the loop's tables.
    let (conn, _client) = accept(&lp, &server);
    drop(conn);
    let before = open_fds();
    for i in 0..200u64 {
        let (conn, mut client) = accept(&lp, &server);
        let first = common::pattern(10 + i as usize, i);
        let second = common::pattern(100 + i as usize, i + 7);
        block_on(&lp, async {
            conn.write(&first).await.unwrap();
            // Waits for the first send to end, then queues the second (and the slot's
            // FilesUpdate), then the socket is dropped in this same turn.
            conn.write(&second).await.unwrap();
            drop(conn);
        });
        let got = read_to_end(&mut client).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(got, [first, second].concat(), "connection {i}");
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// The same with the socket dropped while the loop keeps running and a large write-behind
/// send (several chunks, so the socket is in the table) is still going out to a slow reader:
/// the rest leaves on the duplicate descriptor, then end of stream.
#[test]
fn a_socket_in_the_table_dropped_mid_write_lingers_then_ends_the_stream() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    let before = open_fds();
    for i in 0..5u64 {
        let (conn, mut client) = accept(&lp, &server);
        let big = common::pattern(3 * 1024 * 1024 + 17, 99 + i);
        let expected = big.clone();
        let reader = std::thread::spawn(move || {
            // The reader starts late: the server's socket is gone by then.
            std::thread::sleep(Duration::from_millis(300));
            read_to_end(&mut client)
        });
        block_on(&lp, async {
            conn.write(b"hello").await.unwrap();
            conn.write(&big).await.unwrap();
            drop(conn);
            // Other connections come and go, taking and giving back slots, while the
            // lingering send goes on.
            pairs_come_and_go(20, 2000).await;
            for _ in 0..200 {
                event::sleep(Duration::from_millis(10)).await;
            }
        });
        let got = reader.join().unwrap().expect("end of stream, not a reset");
        assert_eq!(got.len(), expected.len() + 5, "connection {i}");
        assert!(got[5..] == expected[..], "connection {i}: wrong bytes");
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// A socket in the table dropped with received bytes nobody read: the peer sees a reset.
#[test]
fn a_socket_in_the_table_dropped_with_unread_bytes_resets_the_peer() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    for i in 0..20 {
        let (conn, mut client) = accept(&lp, &server);
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        block_on(&lp, async {
            for m in 0..3u8 {
                conn.write(&[m; 500]).await.unwrap();
            }
        });
        let mut got = [0u8; 1500];
        client.read_exact(&mut got).unwrap();
        client.write_all(b"never read").unwrap();
        block_on(&lp, async {
            // The bytes reach the inbox, unread.
            event::sleep(Duration::from_millis(30)).await;
            drop(conn);
        });
        let mut rest = Vec::new();
        let r = client.read_to_end(&mut rest);
        assert!(
            matches!(&r, Err(e) if common::clients::is_reset(e)),
            "connection {i}: {r:?} (read {} bytes), not a reset",
            rest.len()
        );
    }
}

/// `shutdown_write` on a socket in the table: the peer sees end of stream and can still send.
#[test]
fn shutdown_write_of_a_socket_in_the_table_ends_the_peers_stream() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    for i in 0..20 {
        let (conn, mut client) = accept(&lp, &server);
        block_on(&lp, async {
            for m in 0..3u8 {
                conn.write(&[m; 700]).await.unwrap();
            }
            conn.shutdown_write().unwrap();
        });
        let got = read_to_end(&mut client).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(got.len(), 2100, "connection {i}");
        client.write_all(b"after").unwrap();
        let back = block_on(&lp, common::read_exact(&conn, 5)).unwrap();
        assert_eq!(back, b"after");
        drop(conn);
        block_on(&lp, event::yield_now());
    }
}

/// Dropping the loop with connections in the table open (their tasks wait on reads): every
/// peer sees end of stream, and the descriptors are released.
#[test]
fn dropping_the_loop_closes_the_sockets_in_the_table() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    let addr = std::net::SocketAddr::from(server.local_address());
    let mut clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    block_on(&lp, async {
        for _ in 0..20 {
            let conn = server.accept().await.unwrap();
            event::spawn(async move {
                for m in 0..3u8 {
                    conn.write(&[m; 100]).await.unwrap();
                }
                let _ = conn.read(16).await;
            });
        }
        event::sleep(Duration::from_millis(50)).await;
    });
    drop(server);
    drop(lp);
    for (i, c) in clients.iter_mut().enumerate() {
        let got = read_to_end(c).unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(got.len(), 300, "client {i}");
    }
    drop(clients);
    assert_eq!(open_fds(), before, "descriptors leaked by the loop's drop");
}

/// A socket in the table dropped outside the loop (its receive armed on the slot): its
/// descriptor is closed at once and the peer sees end of stream without the loop turning.
#[test]
fn a_socket_in_the_table_dropped_outside_the_loop_is_closed_at_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    for i in 0..20 {
        let (conn, mut client) = accept(&lp, &server);
        block_on(&lp, async {
            for m in 0..3u8 {
                conn.write(&[m; 300]).await.unwrap();
            }
            // A read that times out leaves the receive armed, on the slot.
            let r = conn.read(10).timeout(Duration::from_millis(20)).await;
            assert!(r.is_err(), "nothing was sent");
        });
        let before = open_fds();
        drop(conn);
        assert_eq!(open_fds(), before - 1, "connection {i}: still open");
        let got = read_to_end(&mut client).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(got.len(), 900, "connection {i}");
    }
}

/// A socket in the table whose write timed out (the peer does not read) and that is then
/// dropped: the peer, reading at last, gets a prefix of the bytes and then end of stream or a
/// reset, never another connection's bytes; nothing leaks.
#[test]
fn a_socket_in_the_table_dropped_after_a_write_timeout_closes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    let lp = test_loop(EventLoop::builder().linger_timeout(Duration::from_millis(200)));
    let server = common::listen_local();
    for i in 0..5u64 {
        let (conn, mut client) = accept(&lp, &server);
        let big = common::pattern(16 * 1024 * 1024, i);
        block_on(&lp, async {
            conn.write(b"one").await.unwrap();
            let r = conn.write(&big).timeout(Duration::from_millis(100)).await;
            assert!(r.is_err(), "16 MiB to a peer that does not read");
            drop(conn);
            // Other connections take slots meanwhile.
            pairs_come_and_go(5, 1000).await;
            event::sleep(Duration::from_millis(400)).await;
        });
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let r = client.read_to_end(&mut got);
        assert!(
            r.is_ok() || matches!(&r, Err(e) if common::clients::is_reset(e)),
            "connection {i}: {r:?}"
        );
        assert!(got.len() >= 3 && got[..3] == *b"one", "connection {i}");
        assert!(
            got[3..] == big[..got.len() - 3],
            "connection {i}: wrong bytes"
        );
    }
    drop(server);
    drop(lp);
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// A socket in the table receiving more than its inbox holds while its task reads slowly (the
/// receive is re-armed on the slot, capped or paused): every byte arrives, in order.
#[test]
fn a_socket_in_the_table_receives_a_flood_in_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lp = test_loop(EventLoop::builder());
    let server = common::listen_local();
    let (conn, client) = accept(&lp, &server);
    let flood = common::pattern(4 * 1024 * 1024, 5);
    let sent = flood.clone();
    let writer = std::thread::spawn(move || {
        let mut client = client;
        client.write_all(&sent).unwrap();
        client
    });
    let got = block_on(&lp, async {
        // Into the table first (its second send), its receive already armed on the descriptor.
        let first = conn.read(1).await.unwrap();
        for m in 0..3u8 {
            conn.write(&[m; 10]).await.unwrap();
        }
        let mut got = first;
        while got.len() < flood.len() {
            got.extend(conn.read(7000).await.unwrap());
            if got.len() % 5 == 0 {
                event::sleep(Duration::from_millis(1)).await;
            }
        }
        got
    });
    assert!(got == flood, "bytes lost, doubled or out of order");
    let mut client = writer.join().unwrap();
    drop(conn);
    block_on(&lp, event::yield_now());
    let rest = read_to_end(&mut client).unwrap();
    assert_eq!(rest, [[0u8; 10], [1; 10], [2; 10]].concat());
}
