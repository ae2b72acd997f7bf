//! A listener's `ListenOptions::nodelay` is the default of each connection it accepts, not a
//! value forced on it later: a connection's own `set_nodelay(false)`, made as soon as `accept`
//! returns, stays in force once the loop has turned (on io_uring the listener's option travels
//! as a ring command, which must not run after the socket's own setting and undo it).
mod common;

use event::{ListenOptions, Socket};

fn nodelay(socket: &Socket) -> bool {
    socket2::SockRef::from(socket).tcp_nodelay().unwrap()
}

#[test]
fn set_nodelay_false_right_after_accept_is_not_undone_by_the_listener() {
    common::run(async {
        let server = ListenOptions::new()
            .nodelay(true)
            .listen_on("127.0.0.1:0")
            .unwrap();
        for i in 0..3 {
            let client = Socket::connect(server.local_address()).await.unwrap();
            let accepted = server.accept().await.unwrap();
            accepted.set_nodelay(false).unwrap();
            assert!(!nodelay(&accepted), "connection {i}: just set");
            // Turns of the loop: whatever the listener queued has run by the end of the trip.
            accepted.write(b"ping").await.unwrap();
            assert_eq!(client.read(16).await.unwrap(), b"ping");
            client.write(b"pong").await.unwrap();
            assert_eq!(accepted.read(16).await.unwrap(), b"pong");
            assert!(
                !nodelay(&accepted),
                "connection {i}: the listener's option undid set_nodelay(false)"
            );
        }
    });
}

#[test]
fn set_nodelay_true_then_false_after_accept_ends_false() {
    common::run(async {
        let server = ListenOptions::new()
            .nodelay(true)
            .listen_on("127.0.0.1:0")
            .unwrap();
        let client = Socket::connect(server.local_address()).await.unwrap();
        let accepted = server.accept().await.unwrap();
        accepted.set_nodelay(true).unwrap();
        accepted.set_nodelay(false).unwrap();
        event::sleep(std::time::Duration::from_millis(20)).await;
        accepted.write(b"ping").await.unwrap();
        assert_eq!(client.read(16).await.unwrap(), b"ping");
        assert!(!nodelay(&accepted));
    });
}
