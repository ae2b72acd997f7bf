mod common;

use std::time::{Duration, Instant};

use event::{Shutdown, Socket, SocketError};

/// An echo server whose connection tasks `shutdown` tracks; returns its address.
fn tracked_echo_server(shutdown: &Shutdown) -> event::SocketAddress {
    let server = common::listen_local();
    let addr = server.local_address();
    shutdown.close_on_trigger(&server);
    let tracker = shutdown.clone();
    event::spawn(async move {
        let mut conns = server.connections();
        while let Some(Ok(client)) = conns.next().await {
            tracker.spawn(async move {
                while let Ok(bytes) = client.read(4096).await {
                    if client.write(&bytes).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn connected_clients(addr: event::SocketAddress, n: usize) -> Vec<Socket> {
    let mut clients = Vec::new();
    for _ in 0..n {
        let c = Socket::connect(addr).await.unwrap();
        // A round trip proves the server accepted it and spawned its task.
        c.write(b"hi").await.unwrap();
        assert_eq!(common::read_exact(&c, 2).await.unwrap(), b"hi");
        clients.push(c);
    }
    clients
}

#[test]
fn idle_connections_are_cut_at_the_deadline() {
    common::run(async {
        let shutdown = Shutdown::new();
        let addr = tracked_echo_server(&shutdown);
        let clients = connected_clients(addr, 3).await;
        assert_eq!(shutdown.active(), 3);
        let start = Instant::now();
        let report = shutdown.drain(Duration::from_millis(100)).await;
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!((report.finished, report.cut), (0, 3));
        assert_eq!(report.to_string(), "shutdown: 0 finished, 3 cut");
        // The cut connections were closed: each client reads end-of-stream.
        for c in &clients {
            assert!(matches!(
                c.read(10).await,
                Err(SocketError::ConnectionClosed)
            ));
        }
    });
}

#[test]
fn connections_that_finish_let_drain_return_early() {
    common::run(async {
        let shutdown = Shutdown::new();
        let addr = tracked_echo_server(&shutdown);
        let clients = connected_clients(addr, 4).await;
        let closer = event::spawn(async move {
            event::sleep(Duration::from_millis(20)).await;
            drop(clients);
        });
        let start = Instant::now();
        let report = shutdown.drain(Duration::from_secs(30)).await;
        assert!(start.elapsed() < Duration::from_secs(10), "returned early");
        assert_eq!((report.finished, report.cut), (4, 0));
        closer.await.unwrap();
    });
}

#[test]
fn no_accept_happens_after_shutdown_begins() {
    common::run(async {
        let shutdown = Shutdown::new();
        let addr = tracked_echo_server(&shutdown);
        let _open = connected_clients(addr, 1).await;
        shutdown.trigger();
        assert!(shutdown.is_triggered());
        shutdown.triggered().await;
        let err = Socket::connect(addr).await.unwrap_err();
        assert!(matches!(err, SocketError::Connect { .. }), "{err:?}");
        assert_eq!(shutdown.active(), 1, "no new connection task");
    });
}

#[test]
fn signal_triggers_the_shutdown() {
    common::run(async {
        let shutdown = Shutdown::new();
        let _addr = tracked_echo_server(&shutdown);
        shutdown
            .trigger_on_signals(&[event::signal::SIGUSR1])
            .unwrap();
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            signal_hook::low_level::raise(event::signal::SIGUSR1).unwrap();
        });
        shutdown.triggered().await;
        let report = shutdown.drain(Duration::from_secs(1)).await;
        assert_eq!(report.cut, 0);
    });
}

#[test]
fn a_task_spawned_while_drain_cancels_stays_tracked() {
    common::run(async {
        let shutdown = Shutdown::new();
        shutdown.spawn(std::future::pending::<()>()); // cut at the deadline
        let s2 = shutdown.clone();
        let spawner = event::spawn(async move {
            s2.triggered().await;
            // Wait until drain has taken the cut task out, then spawn into the freed slot
            // while that task is still being cancelled.
            while s2.active() > 0 {
                event::yield_now().await;
            }
            s2.spawn(async { event::sleep(Duration::from_millis(100)).await });
        });
        let report = shutdown.drain(Duration::from_millis(10)).await;
        assert_eq!((report.finished, report.cut), (0, 1));
        spawner.await.unwrap();
        assert_eq!(shutdown.active(), 1, "the new task is still tracked");
    });
}
