//! A Unix-domain stream socket at a path: connect, echo both ways, addresses on both sides, and
//! the socket file removed when the listener closes.

mod common;

use common::unix::{TempDir, read_exact, spawn_unix_echo, unix_pair};
use event::{UnixAddress, UnixSocket};

#[test]
fn a_client_gets_its_bytes_echoed_through_a_socket_file() {
    let dir = TempDir::new("echo");
    let path = dir.join("echo.sock");
    let server = UnixSocket::listen(&path).unwrap();
    assert_eq!(server.local_address(), UnixAddress::path(&path));
    assert!(path.exists(), "the socket file is there while listening");
    common::run(async {
        spawn_unix_echo(server.clone());
        let client = UnixSocket::connect(&path).await.unwrap();
        assert_eq!(client.peer_address().unwrap(), UnixAddress::path(&path));
        for msg in [&b"hello"[..], b"over a unix socket", &[0u8, 255, 1, 254]] {
            client.write(msg).await.unwrap();
            assert_eq!(read_exact(&client, msg.len()).await.unwrap(), msg);
        }
    });
    server.close();
    assert!(
        !path.exists(),
        "closing the listener removes its socket file"
    );
}

#[test]
fn an_accepted_socket_knows_its_listener_and_its_client_is_unnamed() {
    let dir = TempDir::new("addrs");
    let path = dir.join("a.sock");
    let server = UnixSocket::listen(&path).unwrap();
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        assert_eq!(accepted.local_address().unwrap(), UnixAddress::path(&path));
        assert_eq!(accepted.peer_address().unwrap(), UnixAddress::Unnamed);
        assert_eq!(client.local_address().unwrap(), UnixAddress::Unnamed);
        accepted.write(b"x").await.unwrap();
        assert_eq!(client.read(1).await.unwrap(), b"x");
    });
    drop(server);
    assert!(
        !path.exists(),
        "dropping the listener removes its socket file"
    );
}

#[test]
fn remove_on_close_false_leaves_the_file() {
    let dir = TempDir::new("keep");
    let path = dir.join("keep.sock");
    let server = event::UnixListenOptions::new()
        .remove_on_close(false)
        .listen(&path)
        .unwrap();
    drop(server);
    assert!(path.exists(), "the file stays, as asked");
}

#[test]
fn a_relative_path_works() {
    let dir = TempDir::new("rel");
    // Relative to the working directory: connect with the same relative path.
    let rel = dir
        .path()
        .strip_prefix(std::env::current_dir().unwrap())
        .map(|p| p.join("r.sock"))
        .unwrap_or_else(|_| dir.join("r.sock"));
    let server = UnixSocket::listen(&rel).unwrap();
    common::run(async {
        let (client, accepted) = unix_pair(&server).await;
        client.write(b"rel").await.unwrap();
        assert_eq!(read_exact(&accepted, 3).await.unwrap(), b"rel");
    });
}
