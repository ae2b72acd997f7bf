mod common;

use std::time::Duration;

use event::{Socket, SocketError};

#[test]
fn close_twice_is_harmless_and_wakes_a_pending_accept() {
    common::run(async {
        let server = common::listen_local();
        let closer = server.clone();
        let pending = event::spawn(async move { server.accept().await.map(|_| ()) });
        event::sleep(Duration::from_millis(10)).await;
        assert!(!pending.is_finished(), "accept waits for a connection");
        closer.close();
        closer.close();
        assert!(matches!(pending.await.unwrap(), Err(SocketError::Closed)));
        assert!(closer.is_closed());
        assert!(matches!(closer.accept().await, Err(SocketError::Closed)));
    });
}

#[test]
fn close_refuses_new_connections() {
    common::run(async {
        let server = common::listen_local();
        let addr = server.local_address();
        server.close();
        let err = Socket::connect(addr).await.unwrap_err();
        assert!(matches!(err, SocketError::Connect { .. }), "{err:?}");
    });
}

#[test]
fn connections_stream_yields_clients_and_ends_on_close() {
    common::run(async {
        let server = common::listen_local();
        let addr = server.local_address();
        let closer = server.clone();
        let acceptor = event::spawn(async move {
            let mut n = 0;
            let mut conns = server.connections();
            while let Some(c) = conns.next().await {
                c.unwrap();
                n += 1;
                if n == 3 {
                    closer.close();
                }
            }
            n
        });
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(Socket::connect(addr).await.unwrap());
        }
        assert_eq!(acceptor.await.unwrap(), 3);
    });
}

#[test]
fn cancelling_an_accept_loop_frees_the_port() {
    let lp = event::EventLoop::new().unwrap();
    let port = lp.block_on(async {
        let server = common::listen_local();
        let port = server.local_port();
        let task = event::spawn(async move {
            let mut conns = server.connections();
            while let Some(c) = conns.next().await {
                drop(c);
            }
        });
        event::sleep(Duration::from_millis(5)).await;
        task.cancel().await;
        port
    });
    assert_eq!(lp.stats().sources, 0, "the listener's registration is gone");
    assert_eq!(
        lp.stats().operations,
        0,
        "and its multishot accept (io_uring)"
    );
    // No SO_REUSEADDR: the bind succeeds only if the old listener is really closed.
    let probe = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    probe.bind(&addr.into()).expect("port is free again");
    probe.listen(1).expect("and can listen");
}

#[test]
fn accept_timeout_fires_and_listener_stays_usable() {
    common::run(async {
        let server = common::listen_local();
        let err = server
            .accept()
            .timeout(Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(err.is_timeout());
        let addr = server.local_address();
        let (_client, accepted) = common::join(Socket::connect(addr), server.accept()).await;
        accepted.unwrap();
    });
}

#[test]
fn close_then_drop_closes_the_descriptor_once() {
    // The seed closed twice: an unrelated file that reused the number got closed too.
    common::run(async {
        let server = common::listen_local();
        let clone = server.clone();
        server.close();
        // The freed descriptor number is likely reused by this file.
        let mut file = tempfile_in_tmp();
        drop(server);
        drop(clone);
        use std::io::Write;
        file.write_all(b"still open")
            .expect("the reused descriptor was not closed by the drop");
    });
}

fn tempfile_in_tmp() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("event-fd-test-{}", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

#[test]
fn accept_waiting_at_the_connection_limit_wakes_on_close_and_times_out() {
    common::run(async {
        let server = event::ListenOptions::new()
            .max_connections(1)
            .listen_on(event::SocketAddress::localhost(0))
            .unwrap();
        let addr = server.local_address();
        let (_client, held) = common::join(Socket::connect(addr), server.accept()).await;
        let _held = held.unwrap();
        // At the limit: a timed accept gives up in time even with a client in the backlog.
        let _waiting_client = Socket::connect(addr).await.unwrap();
        let err = server
            .accept()
            .timeout(Duration::from_millis(30))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        // And close() ends an accept that waits for a place.
        let closer = server.clone();
        let pending = event::spawn(async move { server.accept().await.map(|_| ()) });
        event::sleep(Duration::from_millis(10)).await;
        closer.close();
        assert!(matches!(pending.await.unwrap(), Err(SocketError::Closed)));
    });
}

#[test]
fn at_limit_close_mode_closes_new_connections_at_once() {
    common::run(async {
        let server = event::ListenOptions::new()
            .max_connections(1)
            .at_limit(event::AtLimit::Close)
            .listen_on(event::SocketAddress::localhost(0))
            .unwrap();
        let addr = server.local_address();
        let (_first, held) = common::join(Socket::connect(addr), server.accept()).await;
        let held = held.unwrap();
        // A second client is accepted and closed by the listener while the first is open.
        let second = Socket::connect(addr).await.unwrap();
        let acceptor = event::spawn(async move {
            let next = server.accept().await.map(|_| ());
            (server, next)
        });
        let err = second
            .read(10)
            .timeout(Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SocketError::ConnectionClosed | SocketError::Read { .. }
            ),
            "{err:?}"
        );
        // Once the first leaves, the next client is served.
        drop(held);
        let _third = Socket::connect(addr).await.unwrap();
        let (_server, next) = acceptor.await.unwrap();
        next.unwrap();
    });
}
