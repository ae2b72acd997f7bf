//! UDP sends in a burst and the error of a send the kernel refused.
//!
//! On io_uring a send is done once queued for the loop's next wait (a turn's sends reach the
//! kernel together), at most a bounded window of them per socket; on epoll a send is a
//! `sendto`. Either way every datagram of a burst reaches a reader that keeps up, and an
//! error the kernel reports says which destination it was for.

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::time::Duration;

use event::UdpSocket;

/// Datagram `seq` of the burst: its number, then bytes derived from it.
fn datagram(seq: u32) -> Vec<u8> {
    let mut d = seq.to_le_bytes().to_vec();
    d.extend((0..996u32).map(|i| (i ^ seq) as u8));
    d
}

#[test]
fn a_burst_of_sends_without_a_pause_all_arrive_whole() {
    const COUNT: u32 = 2000;
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Room for the whole burst in the kernel, so nothing may drop on the way.
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(8 << 20)
        .unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = peer.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        let mut buf = [0u8; 2048];
        while seen.len() < COUNT as usize {
            let n = peer
                .recv(&mut buf)
                .expect("every datagram of the burst arrives");
            let seq = u32::from_le_bytes(buf[..4].try_into().unwrap());
            assert_eq!(&buf[..n], &datagram(seq)[..], "datagram {seq} whole");
            assert!(seen.insert(seq), "datagram {seq} twice");
        }
        seen
    });
    common::run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        // No await between sends returns to the loop unless the send window is full.
        for seq in 0..COUNT {
            let sent = socket.send_to(&datagram(seq), addr).await.unwrap();
            assert_eq!(sent, 1000);
        }
    });
    let seen = reader.join().unwrap();
    assert_eq!(seen, (0..COUNT).collect::<BTreeSet<_>>());
}

#[test]
fn a_refused_send_is_reported_with_its_destination() {
    common::run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = peer.local_address().to_std();
        // Port 0 is no destination: the kernel refuses the datagram (EINVAL).
        let nowhere: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let first = socket.send_to(b"lost", nowhere).await;
        let err = if event::backend() == "io_uring" {
            // Done once queued: the refusal is the next send's (after a turn of the loop),
            // and names the datagram it was for; the next send itself sent nothing.
            first.unwrap();
            event::sleep(Duration::from_millis(10)).await;
            socket.send_to(b"not sent", good).await.unwrap_err()
        } else {
            first.unwrap_err()
        };
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("127.0.0.1:0"), "{err}");
        // Reported once: the socket goes on, and the next datagram arrives.
        socket.send_to(b"after", good).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = peer
            .recv_from(&mut buf)
            .timeout(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"after");
    });
}
