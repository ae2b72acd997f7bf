//! UDP against a real client: a blocking `std::net::UdpSocket` on another thread is the peer,
//! both as the echo server and as the client of ours.

mod common;

use std::time::Duration;

use event::UdpSocket;

#[test]
fn our_socket_talks_to_a_std_echo_server() {
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = peer.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        for _ in 0..100 {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            peer.send_to(&buf[..n], from).unwrap();
        }
    });
    common::run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(addr).unwrap();
        let mut buf = vec![0u8; 65_536];
        for i in 0..100usize {
            let msg: Vec<u8> = (0..i * 97).map(|j| (j ^ i) as u8).collect();
            socket.send(&msg).await.unwrap();
            let n = socket
                .recv(&mut buf)
                .timeout(Duration::from_secs(10))
                .await
                .unwrap();
            assert!(buf[..n] == msg[..], "datagram {i}");
        }
    });
    thread.join().unwrap();
}

#[test]
fn a_std_client_talks_to_our_echo_server() {
    let client = common::run(async {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_address().to_std();
        let client = std::thread::spawn(move || {
            let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 2048];
            for i in 0..50u32 {
                let msg = format!("std datagram {i}");
                c.send_to(msg.as_bytes(), addr).unwrap();
                let (n, from) = c.recv_from(&mut buf).unwrap();
                assert_eq!(from, addr);
                assert_eq!(&buf[..n], msg.as_bytes());
            }
        });
        let mut buf = [0u8; 2048];
        for _ in 0..50 {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            server.send_to(&buf[..n], from).await.unwrap();
        }
        client
    });
    client.join().unwrap();
}
