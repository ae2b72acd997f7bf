//! UDP on every core: `PerCore::bind_udp` gives each loop its own `SO_REUSEPORT` socket on one
//! port; the kernel spreads senders over them and every datagram is answered. A port another
//! socket is bound to is refused.

mod common;

use std::time::Duration;

use event::{PerCore, SocketError, UdpOptions};

#[test]
fn every_loop_serves_its_socket_on_one_port() {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let clients = std::thread::spawn(move || {
        let port: u16 = port_rx.recv().unwrap();
        let mut answered = 0;
        for i in 0..64u32 {
            let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.send_to(&i.to_le_bytes(), ("127.0.0.1", port)).unwrap();
            let mut buf = [0u8; 64];
            let (n, _) = c.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..4], &i.to_le_bytes());
            assert!(n == 5, "the loop's index follows the echo");
            answered += 1;
        }
        // Stop every loop: "stop" from many senders reaches each socket of the port.
        for _ in 0..200 {
            let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let _ = c.send_to(b"stop", ("127.0.0.1", port));
        }
        answered
    });
    let results = PerCore::new()
        .threads(2)
        .bind_udp(&UdpOptions::new(), "127.0.0.1:0", move |socket, ctx| {
            let port_tx = port_tx.clone();
            async move {
                if ctx.index() == 0 {
                    port_tx.send(socket.local_address().port()).unwrap();
                }
                let mut buf = [0u8; 64];
                let mut served = 0u32;
                loop {
                    let r = socket
                        .recv_from(&mut buf[..63])
                        .timeout(Duration::from_secs(20))
                        .await;
                    let Ok((n, from)) = r else { return served };
                    if &buf[..n] == b"stop" {
                        return served;
                    }
                    buf[n] = ctx.index() as u8;
                    socket.send_to(&buf[..n + 1], from).await.unwrap();
                    served += 1;
                }
            }
        })
        .unwrap();
    assert_eq!(clients.join().unwrap(), 64);
    let served: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(served.iter().sum::<u32>(), 64, "{served:?}");
}

#[test]
fn a_port_in_use_is_refused() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = PerCore::new()
        .threads(2)
        .bind_udp(&UdpOptions::new(), ("127.0.0.1", port), |_, _| async {})
        .unwrap_err();
    assert!(matches!(err, SocketError::Bind { .. }), "{err}");
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
}
