//! `ListenOptions::nodelay` on a connection that has not written yet: the option is on once
//! the loop has waited once (on io_uring the listener's ring command travels with the loop's
//! next wait, as its docs say; on epoll it is on when `accept` returns), and a connection
//! accepted and dropped at once leaves no option behind for the next socket to get the
//! descriptor number.
mod common;

use std::time::Duration;

use event::{ListenOptions, Socket};

fn nodelay(socket: &Socket) -> bool {
    socket2::SockRef::from(socket).tcp_nodelay().unwrap()
}

#[test]
fn nodelay_is_on_after_one_wait_without_any_write() {
    common::run(async {
        let server = ListenOptions::new()
            .nodelay(true)
            .listen_on("127.0.0.1:0")
            .unwrap();
        let _client = Socket::connect(server.local_address()).await.unwrap();
        let accepted = server.accept().await.unwrap();
        event::sleep(Duration::from_millis(5)).await;
        assert!(nodelay(&accepted), "backend {}", event::backend());
    });
}

#[test]
fn a_connection_dropped_at_accept_leaves_no_option_for_the_next_descriptor() {
    common::run(async {
        let server = ListenOptions::new()
            .nodelay(true)
            .listen_on("127.0.0.1:0")
            .unwrap();
        // Plain listener, sockets without the option, to take the freed numbers.
        let plain = ListenOptions::new().listen_on("127.0.0.1:0").unwrap();
        for i in 0..20 {
            let _client = Socket::connect(server.local_address()).await.unwrap();
            let accepted = server.accept().await.unwrap();
            drop(accepted);
            // A socket made in the same turn, then one after the loop has waited (the dropped
            // connection's number free again by then, so likely this one's).
            let same_turn = Socket::connect(plain.local_address()).await.unwrap();
            let other = plain.accept().await.unwrap();
            event::sleep(Duration::from_millis(1)).await;
            assert!(!nodelay(&same_turn), "round {i}: connecting socket");
            assert!(
                !nodelay(&other),
                "round {i}: accepted by the plain listener"
            );
            let std_client =
                std::net::TcpStream::connect(plain.local_address().to_string()).unwrap();
            let later = plain.accept().await.unwrap();
            event::sleep(Duration::from_millis(1)).await;
            assert!(!std_client.nodelay().unwrap(), "round {i}: std socket");
            assert!(!nodelay(&later), "round {i}: later accepted");
        }
    });
}
