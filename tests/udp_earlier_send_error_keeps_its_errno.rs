//! UDP: the error of a datagram the kernel refused keeps its errno whichever send reports it.
//!
//! On epoll the refusal is the `sendto`'s own; on io_uring a send is done once queued, and the
//! kernel's verdict on it comes back with a later send, possibly to another destination. Either
//! way `SocketError::raw_os_error` gives the errno, as the contract says every error does.

mod common;

use std::time::Duration;

use event::UdpSocket;

#[test]
fn a_refusal_reported_by_a_send_to_another_destination_keeps_its_errno() {
    common::run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = peer.local_address().to_std();
        // Port 0 is no destination: the kernel refuses the datagram with EINVAL.
        let nowhere: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let err = match socket.send_to(b"lost", nowhere).await {
            Err(err) => err,
            Ok(_) => {
                // Queued (io_uring): the refusal comes back with the next send, to `good`.
                event::sleep(Duration::from_millis(10)).await;
                socket.send_to(b"not sent", good).await.unwrap_err()
            }
        };
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        assert!(err.to_string().contains("127.0.0.1:0"), "{err}");
    });
}
