//! Every timeout says which operation timed out and where, as a connect timeout always did:
//! "read from 127.0.0.1:P: timed out after 40ms", "accept on 127.0.0.1:P: ...", "write to
//! 127.0.0.1:P: ... (N bytes written)"; through `AsyncRead`/`AsyncWrite` too. The variants keep
//! their names, so `SocketError::Timeout { .. }` still matches.
mod common;

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use event::SocketError;
use futures_io::{AsyncRead, AsyncWrite};

const AFTER: Duration = Duration::from_millis(40);

/// The peer's address as the accepting side sees it (the client's local address).
fn local_of(socket: &event::Socket) -> SocketAddr {
    socket2::SockRef::from(socket)
        .local_addr()
        .unwrap()
        .as_socket()
        .unwrap()
}

#[test]
fn a_read_timeout_names_read_and_the_peer() {
    common::run(async {
        let (client, server) = common::pair().await;
        let peer: SocketAddr = server.peer_address().into();
        assert_eq!(peer, local_of(&client));
        let err = server.read(16).timeout(AFTER).await.unwrap_err();
        assert!(
            matches!(err, SocketError::Timeout { op: "read", addr, after } if addr == peer && after == AFTER),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("read from {peer}: timed out after 40ms")
        );
        assert!(err.is_timeout() && matches!(err, SocketError::Timeout { .. }));
        // read_into takes the same path out.
        let mut buf = [0u8; 8];
        let err = server.read_into(&mut buf).timeout(AFTER).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("read from {peer}: timed out after 40ms")
        );
    });
}

#[test]
fn an_accept_timeout_names_accept_and_the_listening_address() {
    common::run(async {
        let server = common::listen_local();
        let local: SocketAddr = server.local_address().into();
        let err = server.accept().timeout(AFTER).await.unwrap_err();
        assert!(
            matches!(err, SocketError::Timeout { op: "accept", addr, .. } if addr == local),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("accept on {local}: timed out after 40ms")
        );
    });
}

#[test]
fn an_accept_timeout_at_the_connection_limit_names_the_listening_address() {
    common::run(async {
        let server = event::ListenOptions::new()
            .max_connections(1)
            .listen_on("127.0.0.1:0")
            .unwrap();
        let local: SocketAddr = server.local_address().into();
        let _first = event::Socket::connect(local).await.unwrap();
        let _held = server.accept().await.unwrap();
        let _second = event::Socket::connect(local).await.unwrap();
        let err = server.accept().timeout(AFTER).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("accept on {local}: timed out after 40ms")
        );
    });
}

#[test]
fn a_write_timeout_names_write_the_peer_and_the_bytes_written() {
    common::run(async {
        let (client, server) = common::small_buffer_pair().await;
        let peer: SocketAddr = client.peer_address().into();
        // The peer does not read: the kernel's buffers fill and the write has to wait.
        let data = common::pattern(16 << 20, 3);
        let err = client.write(&data).timeout(AFTER).await.unwrap_err();
        let SocketError::WriteTimeout {
            peer: named,
            written,
            after,
        } = err
        else {
            panic!("expected WriteTimeout, got {err:?}");
        };
        assert_eq!((named, after), (peer, AFTER));
        assert!(written > 0 && written < data.len(), "written {written}");
        assert_eq!(
            err.to_string(),
            format!("write to {peer}: timed out after 40ms ({written} bytes written)")
        );
        drop(server);
    });
}

#[test]
fn trait_timeouts_name_the_operation_and_the_peer() {
    common::run(async {
        let (client, server) = common::small_buffer_pair().await;
        // Read: nothing arrives within the socket's default read timeout.
        server.set_read_timeout(Some(AFTER));
        let peer: SocketAddr = server.peer_address().into();
        let mut buf = [0u8; 16];
        let mut reader = &server;
        let err = poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut buf))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(
            err.to_string(),
            format!("read from {peer}: timed out after 40ms")
        );
        assert!(matches!(
            SocketError::from(err),
            SocketError::Timeout { op: "read", .. }
        ));
        // Write: the peer never reads, so the trait's writes stall once the buffers are full.
        client.set_write_timeout(Some(AFTER));
        let peer: SocketAddr = client.peer_address().into();
        let chunk = vec![7u8; 64 * 1024];
        let mut writer = &client;
        let err = loop {
            match poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, &chunk)).await {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(
            err.to_string(),
            format!("write to {peer}: timed out after 40ms (0 bytes written)")
        );
    });
}
