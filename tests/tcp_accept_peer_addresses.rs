//! Every accepted connection knows its own peer: on io_uring the multishot accept's one address
//! buffer is overwritten at each connection, so only the last of a batch may take its address
//! from there. Bursts (many connections accepted in one batch), one-at-a-time accepts and IPv6
//! must each name the client's own address, as `accept4` does on epoll.

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use event::{Socket, SocketAddress};

/// Connects `n` blocking clients to `addr` at once (from a thread, before the server accepts
/// any) and returns them, kept open.
fn connect_all(addr: SocketAddr, n: usize) -> std::thread::JoinHandle<Vec<TcpStream>> {
    std::thread::spawn(move || (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect())
}

/// Accepts `n` connections on a listener at `listen` after `n` clients connected at once, and
/// checks that the server's peer addresses are exactly the clients' local addresses.
fn burst_names_each_client(listen: SocketAddress, n: usize) {
    common::run(async move {
        let server = Socket::listen_on(listen).unwrap();
        let clients = connect_all(server.local_address().to_std(), n);
        // Let every client reach the backlog, so one multishot accept takes them in a batch.
        while !clients.is_finished() {
            event::sleep(Duration::from_millis(5)).await;
        }
        let clients = clients.join().unwrap();
        let mut seen = BTreeSet::new();
        let mut accepted = Vec::new();
        for _ in 0..n {
            let peer = server.accept().await.unwrap();
            seen.insert(peer.peer_address().to_std());
            accepted.push(peer);
        }
        let want: BTreeSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(
            seen.len(),
            n,
            "two connections named the same peer: {seen:?}"
        );
        assert_eq!(seen, want);
    });
}

#[test]
fn a_burst_of_connections_names_each_peer() {
    burst_names_each_client(SocketAddress::localhost(0), 64);
}

#[test]
fn a_burst_over_ipv6_names_each_peer() {
    burst_names_each_client(SocketAddress::ipv6("::1", 0).unwrap(), 16);
}

#[test]
fn connections_one_at_a_time_name_their_peers() {
    common::run(async {
        let server = common::listen_local();
        let addr = server.local_address();
        for _ in 0..20 {
            let (client, accepted) = common::join(Socket::connect(addr), server.accept()).await;
            let (client, accepted) = (client.unwrap(), accepted.unwrap());
            assert_eq!(accepted.peer_address(), client.local_address().unwrap());
            // The address is also what the server's errors name.
            client.write(b"x").await.unwrap();
            assert_eq!(accepted.read(1).await.unwrap(), b"x");
        }
    });
}

#[test]
fn accepts_between_connects_from_a_thread_name_their_peers() {
    common::run(async {
        let server = common::listen_local();
        let addr = server.local_address().to_std();
        // Clients arrive while the accepting task waits: each lands in a batch of its own or
        // with the next, depending on timing; each must still be named right.
        let clients = std::thread::spawn(move || {
            (0..40)
                .map(|i| {
                    if i % 4 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    TcpStream::connect(addr).unwrap()
                })
                .collect::<Vec<_>>()
        });
        let mut seen = BTreeSet::new();
        let mut accepted = Vec::new();
        for _ in 0..40 {
            let peer = server.accept().await.unwrap();
            seen.insert(peer.peer_address().to_std());
            accepted.push(peer);
        }
        let clients = clients.join().unwrap();
        let want: BTreeSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(seen, want);
    });
}
