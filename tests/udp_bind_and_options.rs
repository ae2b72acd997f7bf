//! UDP: binding in every form `listen_on` takes, port 0 with the chosen port readable, a bind
//! before the loop runs, an address in use, and the socket options.

mod common;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use event::{SocketAddress, SocketError, UdpOptions, UdpSocket};

#[test]
fn every_address_form_binds_and_port_zero_is_readable() {
    let text = UdpSocket::bind("127.0.0.1:0").unwrap();
    let std: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let from_std = UdpSocket::bind(std).unwrap();
    let tuple = UdpSocket::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).unwrap();
    let ours = UdpSocket::bind(SocketAddress::localhost(0)).unwrap();
    let named = UdpSocket::bind(("localhost", 0)).unwrap();
    for s in [&text, &from_std, &tuple, &ours, &named] {
        assert_ne!(s.local_address().port(), 0);
        assert!(s.local_address().ip().is_loopback());
    }
    let err = UdpSocket::bind("127.0.0.1").unwrap_err();
    assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err}");
}

#[test]
fn a_port_in_use_is_refused_with_the_address() {
    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = first.local_address();
    let err = UdpSocket::bind(addr).unwrap_err();
    assert!(matches!(err, SocketError::Bind { .. }), "{err}");
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    // Sockets that all ask for SO_REUSEPORT share it.
    let a = UdpOptions::new()
        .reuse_port(true)
        .bind("127.0.0.1:0")
        .unwrap();
    UdpOptions::new()
        .reuse_port(true)
        .bind(a.local_address())
        .unwrap();
}

#[test]
fn a_socket_bound_before_the_loop_runs_works_inside_it() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    common::run(async {
        a.send_to(b"early", b.local_address()).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"early");
    });
}

#[test]
fn outside_a_loop_an_operation_says_no_loop_runs() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut f = std::pin::pin!(a.send_to(b"x", a.local_address()));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(SocketError::NoEventLoop)) => {}
        other => panic!("expected NoEventLoop, got {other:?}"),
    }
}

#[test]
fn options_are_set_and_read_back() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(!s.broadcast().unwrap());
    s.set_broadcast(true).unwrap();
    assert!(s.broadcast().unwrap());
    s.set_ttl(42).unwrap();
    assert_eq!(s.ttl().unwrap(), 42);
    s.set_multicast_ttl_v4(3).unwrap();
    s.set_multicast_loop_v4(false).unwrap();
    let sock = socket2::SockRef::from(&s);
    assert_eq!(sock.multicast_ttl_v4().unwrap(), 3);
    assert!(!sock.multicast_loop_v4().unwrap());
    let b = UdpOptions::new()
        .broadcast(true)
        .bind("127.0.0.1:0")
        .unwrap();
    assert!(b.broadcast().unwrap());
    assert!(format!("{s:?}").contains("UdpSocket"));
}
