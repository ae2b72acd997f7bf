mod common;

use std::time::Duration;

use event::{Socket, SocketAddress, SocketError};

#[test]
fn connect_to_a_closed_port_fails_at_connect() {
    common::run(async {
        // Reserve a port, then close it, so nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Socket::connect(SocketAddress::localhost(port))
            .await
            .unwrap_err();
        match &err {
            SocketError::Connect { addr, source } => {
                assert_eq!(addr.port(), port);
                assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
            }
            other => panic!("expected Connect, got {other:?}"),
        }
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
        assert!(
            err.to_string()
                .starts_with(&format!("connect 127.0.0.1:{port}: "))
        );
    });
}

#[test]
fn connect_by_host_name_resolves_off_the_loop() {
    common::run(async {
        let addr = common::spawn_echo_server();
        let client = Socket::connect(format!("localhost:{}", addr.port()))
            .await
            .unwrap();
        client.write(b"named").await.unwrap();
        assert_eq!(common::read_exact(&client, 5).await.unwrap(), b"named");
        // Host form with a tuple, too.
        Socket::connect(("127.0.0.1", addr.port())).await.unwrap();
    });
}

#[test]
fn connect_with_a_bad_target_is_invalid_address() {
    common::run(async {
        let err = Socket::connect("no-port-here").await.unwrap_err();
        assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err:?}");
    });
}

#[test]
fn connect_timeout_succeeds_within_the_limit_and_reports_the_peer() {
    common::run(async {
        let addr = common::spawn_echo_server();
        let client = Socket::connect_timeout(addr, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(client.peer_address(), addr);
        assert!(client.local_address().unwrap().ip().is_loopback());
        client.set_nodelay(true).unwrap();
    });
}

#[test]
fn connect_without_a_loop_is_a_clear_error() {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(Socket::connect(SocketAddress::localhost(1)));
    match std::future::Future::poll(fut.as_mut(), &mut cx) {
        std::task::Poll::Ready(Err(SocketError::NoEventLoop)) => {}
        other => panic!("expected NoEventLoop, got {other:?}"),
    }
}
