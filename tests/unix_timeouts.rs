//! Timeouts on Unix sockets: a read's `.timeout(d)` consumes nothing, default timeouts, a
//! listener's idle timeout drops a silent client, a stalled write reports what went out, an
//! accept gives up; each error names the socket's path.

mod common;

use std::time::{Duration, Instant};

use common::unix::{TempDir, unix_pair};
use event::{SocketError, UnixListenOptions, UnixSocket};

#[test]
fn a_read_times_out_having_consumed_nothing() {
    let dir = TempDir::new("rto");
    let path = dir.join("t.sock");
    let server = UnixSocket::listen(&path).unwrap();
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        let err = accepted
            .read(10)
            .timeout(Duration::from_millis(30))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(
            matches!(&err, SocketError::UnixTimeout { op: "read", .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("read from {}: timed out after 30ms", path.display())
        );
        client.write(b"late").await.unwrap();
        assert_eq!(accepted.read(10).await.unwrap(), b"late");
        // A default timeout applies to every read.
        accepted.set_read_timeout(Some(Duration::from_millis(20)));
        assert_eq!(accepted.read_timeout(), Some(Duration::from_millis(20)));
        assert!(accepted.read(1).await.unwrap_err().is_timeout());
    });
}

#[test]
fn the_idle_timeout_drops_a_silent_client() {
    let dir = TempDir::new("idle");
    let server = UnixListenOptions::new()
        .idle_timeout(Duration::from_millis(50))
        .listen(dir.join("i.sock"))
        .unwrap();
    common::run(async {
        let (_client, accepted) = unix_pair(&server).await;
        assert_eq!(accepted.read_timeout(), Some(Duration::from_millis(50)));
        let start = Instant::now();
        assert!(accepted.read(1).await.unwrap_err().is_timeout());
        assert!(start.elapsed() >= Duration::from_millis(45));
    });
}

#[test]
fn a_stalled_write_times_out_and_says_how_much_went_out() {
    common::run(async {
        let (a, _b) = UnixSocket::pair().unwrap();
        let big = vec![7u8; 16 * 1024 * 1024];
        let err = a
            .write(&big)
            .timeout(Duration::from_millis(100))
            .await
            .unwrap_err();
        match err {
            SocketError::UnixTimeout {
                op: "write",
                written,
                ..
            } => assert!(written > 0 && written < big.len(), "{written}"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn an_accept_gives_up_and_the_listener_stays_usable() {
    let dir = TempDir::new("acc");
    let server = UnixSocket::listen(dir.join("a.sock")).unwrap();
    common::run(async {
        let err = server
            .accept()
            .timeout(Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SocketError::UnixTimeout { op: "accept", .. }),
            "{err:?}"
        );
        let (c, _a) = unix_pair(&server).await;
        drop(c);
    });
}

#[test]
fn connect_timeout_connects_in_time() {
    let name = common::unix::abstract_name("cto");
    let server = UnixSocket::listen(name.as_str()).unwrap();
    common::run(async {
        let c = UnixSocket::connect_timeout(name.as_str(), Duration::from_secs(5))
            .await
            .unwrap();
        let _a = server.accept().await.unwrap();
        drop(c);
    });
}
