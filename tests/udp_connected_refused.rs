//! UDP: a connected socket whose peer's port is closed learns it from the ICMP "port
//! unreachable": the next receive (or a later send) fails with a clear `ConnectionRefused`, not
//! silence; the error is reported once and the socket stays usable.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use event::{SocketError, UdpSocket};

/// A port on 127.0.0.1 with nothing bound to it (bound, then closed).
fn closed_port() -> std::net::SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

#[test]
fn a_send_to_a_closed_port_fails_the_next_recv_with_connection_refused() {
    common::run(async {
        let closed = closed_port();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(closed).unwrap();
        assert_eq!(socket.peer_address(), Some(closed.into()));
        socket.send(b"anyone?").await.unwrap();
        let mut buf = [0u8; 64];
        let err = socket
            .recv(&mut buf)
            .timeout(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
        assert!(matches!(err, SocketError::Recv { peer: Some(p), .. } if p == closed));
        assert!(err.to_string().contains(&closed.to_string()), "{err}");
        // Reported once: the next receive waits (and times out) instead of failing again.
        let again = socket
            .recv(&mut buf)
            .timeout(Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(again.is_timeout(), "{again}");
    });
}

#[test]
fn a_refusal_surfaces_on_a_later_send_when_nobody_receives() {
    common::run(async {
        let closed = closed_port();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(closed).unwrap();
        socket.send(b"one").await.unwrap();
        // Give the ICMP error time to arrive (loopback: at once).
        event::sleep(Duration::from_millis(50)).await;
        let two = socket.send(b"two").await;
        let err = if event::backend() == "io_uring" {
            // A send is done once queued: the kernel's refusal of "two" is kept for the send
            // after the loop has turned.
            two.unwrap();
            event::sleep(Duration::from_millis(10)).await;
            socket.send(b"three").await.unwrap_err()
        } else {
            two.unwrap_err()
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
        assert!(
            matches!(err, SocketError::Send { peer, .. } if peer == closed),
            "{err}"
        );
        // Reported once: the socket stays usable.
        socket.send(b"four").await.unwrap();
    });
}

#[test]
fn recv_and_send_without_connect_say_so() {
    common::run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = socket.recv(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        let err = socket.send(b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        assert!(err.to_string().contains("connect first"), "{err}");
    });
}
