//! A Unix listener's connection limit: at the limit new clients wait in the backlog (Wait) or
//! are closed at once (Close); a place frees when a socket is dropped; `Shutdown` closes the
//! listener and drains its connections.

mod common;

use std::time::Duration;

use common::unix::{TempDir, read_exact};
use event::{AtLimit, Shutdown, SocketError, UnixListenOptions, UnixSocket};

#[test]
fn at_the_limit_clients_wait_until_a_place_frees() {
    let dir = TempDir::new("max");
    let path = dir.join("m.sock");
    let server = UnixListenOptions::new()
        .max_connections(1)
        .listen(&path)
        .unwrap();
    common::run(async {
        let _a = UnixSocket::connect(&path).await.unwrap();
        let b = UnixSocket::connect(&path).await.unwrap(); // waits in the backlog
        let first = server.accept().await.unwrap();
        let at_limit = server.accept().timeout(Duration::from_millis(30)).await;
        assert!(at_limit.unwrap_err().is_timeout());
        drop(first);
        let second = server.accept().await.unwrap();
        second.write(b"in").await.unwrap();
        assert_eq!(read_exact(&b, 2).await.unwrap(), b"in");
    });
}

#[test]
fn at_limit_close_closes_the_extra_client() {
    let dir = TempDir::new("maxc");
    let path = dir.join("c.sock");
    let server = UnixListenOptions::new()
        .max_connections(1)
        .at_limit(AtLimit::Close)
        .listen(&path)
        .unwrap();
    common::run(async {
        let _a = UnixSocket::connect(&path).await.unwrap();
        let _first = server.accept().await.unwrap();
        let b = UnixSocket::connect(&path).await.unwrap();
        let waiting = server.accept().timeout(Duration::from_millis(50)).await;
        assert!(waiting.unwrap_err().is_timeout());
        assert!(matches!(
            b.read(1).timeout(Duration::from_secs(5)).await,
            Err(SocketError::ConnectionClosed) | Err(SocketError::Unix { .. })
        ));
    });
}

#[test]
fn shutdown_closes_the_listener_and_drains_connections() {
    let dir = TempDir::new("drain");
    let path = dir.join("d.sock");
    let server = UnixSocket::listen(&path).unwrap();
    common::run(async {
        let shutdown = Shutdown::new();
        shutdown.close_on_trigger(&server);
        let client = UnixSocket::connect(&path).await.unwrap();
        let conn = server.accept().await.unwrap();
        shutdown.spawn(async move {
            // Serves until the client leaves.
            while let Ok(b) = conn.read(64).await {
                conn.write(&b).await.unwrap();
            }
        });
        shutdown.trigger();
        assert!(server.is_closed());
        assert!(!path.exists(), "the closed listener's file is gone");
        assert!(server.accept().await.is_err());
        client.write(b"bye").await.unwrap();
        assert_eq!(read_exact(&client, 3).await.unwrap(), b"bye");
        drop(client);
        let report = shutdown.drain(Duration::from_secs(5)).await;
        assert_eq!(report.cut, 0, "{report}");
    });
}
