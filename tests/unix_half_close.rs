//! Half-close on a Unix stream: after `shutdown_write` the peer reads every byte, then end of
//! stream, and can still answer.

mod common;

use common::unix::{TempDir, read_exact, unix_pair};
use event::{SocketError, UnixSocket};

#[test]
fn the_peer_reads_everything_then_eof_and_still_answers() {
    let dir = TempDir::new("half");
    let server = UnixSocket::listen(dir.join("h.sock")).unwrap();
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        let body = common::pattern(200_000, 7);
        let writer = {
            let body = body.clone();
            event::spawn(async move {
                client.write(&body).await.unwrap();
                client.shutdown_write().unwrap();
                // The other direction stays open.
                let reply = read_exact(&client, 6).await.unwrap();
                assert_eq!(reply, b"got it");
                assert!(matches!(
                    client.read(1).await,
                    Err(SocketError::ConnectionClosed)
                ));
            })
        };
        let got = read_exact(&accepted, body.len()).await.unwrap();
        assert!(got == body, "every byte, in order");
        assert!(matches!(
            accepted.read(1).await,
            Err(SocketError::ConnectionClosed)
        ));
        accepted.write(b"got it").await.unwrap();
        drop(accepted);
        writer.await.unwrap();
    });
}

#[test]
fn a_pair_half_closes_too() {
    common::run(async {
        let (a, b) = UnixSocket::pair().unwrap();
        a.write(b"last words").await.unwrap();
        a.shutdown_write().unwrap();
        assert_eq!(read_exact(&b, 10).await.unwrap(), b"last words");
        assert!(matches!(
            b.read(1).await,
            Err(SocketError::ConnectionClosed)
        ));
        b.write(b"ack").await.unwrap();
        assert_eq!(read_exact(&a, 3).await.unwrap(), b"ack");
    });
}
