//! `ListenOptions::nodelay(true)` sets `TCP_NODELAY` on every accepted connection before its
//! first write (on io_uring as a ring command that travels with the loop's next wait), and
//! only then: a listener without it leaves the kernel's default (off).
mod common;

use event::{ListenOptions, Socket};

/// Whether `TCP_NODELAY` is set on `socket`, asked of the kernel.
fn nodelay(socket: &Socket) -> bool {
    socket2::SockRef::from(socket).tcp_nodelay().unwrap()
}

#[test]
fn every_accepted_connection_has_nodelay_by_its_first_write() {
    common::run(async {
        let server = ListenOptions::new()
            .nodelay(true)
            .listen_on("127.0.0.1:0")
            .unwrap();
        for i in 0..3 {
            let client = Socket::connect(server.local_address()).await.unwrap();
            let accepted = server.accept().await.unwrap();
            // A round trip: the accepted side's write follows the option in the ring's order.
            accepted.write(b"ping").await.unwrap();
            assert_eq!(client.read(16).await.unwrap(), b"ping");
            assert!(nodelay(&accepted), "connection {i}");
            // The client side is the caller's to set.
            assert!(!nodelay(&client), "connection {i}");
        }
    });
}

#[test]
fn without_the_option_accepted_connections_keep_the_default() {
    common::run(async {
        let server = ListenOptions::new().listen_on("127.0.0.1:0").unwrap();
        let client = Socket::connect(server.local_address()).await.unwrap();
        let accepted = server.accept().await.unwrap();
        accepted.write(b"ping").await.unwrap();
        assert_eq!(client.read(16).await.unwrap(), b"ping");
        assert!(!nodelay(&accepted));
        // The per-socket setter still works on top.
        accepted.set_nodelay(true).unwrap();
        assert!(nodelay(&accepted));
    });
}
