//! `Socket::listen_on`, `ListenOptions::listen_on` and `PerCore::listen` take the forms
//! `Socket::connect` takes: text, `SocketAddr`, `SocketAddress`, `(ip, port)`; text that is not
//! an address is a clear `SocketError`, never a panic.
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use event::{ListenOptions, PerCore, ServerSocket, Socket, SocketAddress, SocketError, Target};

fn loopback(server: &ServerSocket) {
    assert!(server.local_address().ip().is_loopback(), "{server:?}");
    assert_ne!(server.local_port(), 0);
}

#[test]
fn text_forms_listen() {
    loopback(&Socket::listen_on("127.0.0.1:0").unwrap());
    loopback(&Socket::listen_on(String::from("127.0.0.1:0")).unwrap());
    let text = String::from("127.0.0.1:0");
    loopback(&Socket::listen_on(&text).unwrap());
    loopback(&Socket::listen_on(text).unwrap());
    loopback(&Socket::listen_on(("127.0.0.1", 0)).unwrap());
    loopback(&Socket::listen_on(Target::from("127.0.0.1:0")).unwrap());
    let v6 = Socket::listen_on("[::1]:0").unwrap();
    assert!(v6.local_address().is_ipv6());
    loopback(&v6);
    loopback(&Socket::listen_on(("::1", 0)).unwrap());
}

#[test]
fn address_forms_listen_as_before() {
    let sa: SocketAddr = "127.0.0.1:0".parse().unwrap();
    loopback(&Socket::listen_on(sa).unwrap());
    loopback(&Socket::listen_on(SocketAddress::localhost(0)).unwrap());
    loopback(&Socket::listen_on((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).unwrap());
    loopback(&Socket::listen_on((Ipv4Addr::LOCALHOST, 0)).unwrap());
    loopback(&Socket::listen_on((Ipv6Addr::LOCALHOST, 0)).unwrap());
    loopback(&Socket::listen_on(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap());
}

#[test]
fn a_host_name_is_resolved() {
    loopback(&Socket::listen_on("localhost:0").unwrap());
    loopback(&Socket::listen_on(("localhost", 0)).unwrap());
}

#[test]
fn bad_text_is_a_clear_error() {
    for (text, reason) in [
        ("127.0.0.1", "expected ip:port"),
        ("127.0.0.1:99999", "port is not a number"),
        ("300.0.0.1:80", "not an IP address"),
        ("::1:80", "needs brackets"),
        ("", "expected ip:port"),
    ] {
        match Socket::listen_on(text) {
            Err(SocketError::InvalidAddress { input, reason: r }) => {
                assert_eq!(input, text);
                assert!(r.contains(reason), "{text:?}: {r}");
            }
            other => panic!("{text:?}: expected InvalidAddress, got {other:?}"),
        }
    }
    match Socket::listen_on("no-such-host.invalid:80") {
        Err(e @ SocketError::Resolve { .. }) => {
            assert!(e.to_string().contains("no-such-host.invalid"), "{e}")
        }
        other => panic!("expected Resolve, got {other:?}"),
    }
    assert!(matches!(
        Socket::listen_on(("300.0.0.1", 80)),
        Err(SocketError::InvalidAddress { .. })
    ));
}

#[test]
fn listen_options_and_per_core_take_text_too() {
    let server = ListenOptions::new()
        .backlog(16)
        .listen_on("127.0.0.1:0")
        .unwrap();
    loopback(&server);
    let ports = PerCore::new()
        .threads(1)
        .listen(
            &ListenOptions::new(),
            "127.0.0.1:0",
            |server, _| async move { server.local_address() },
        )
        .unwrap();
    assert!(ports[0].as_ref().unwrap().ip().is_loopback());
    let err = PerCore::new()
        .threads(1)
        .listen(&ListenOptions::new(), "127.0.0.1", |_, _| async {})
        .unwrap_err();
    assert!(matches!(err, SocketError::InvalidAddress { .. }), "{err}");
}

#[test]
fn a_server_listening_on_text_accepts() {
    common::run(async {
        let server = Socket::listen_on("127.0.0.1:0").unwrap();
        let (client, accepted) =
            common::join(Socket::connect(server.local_address()), server.accept()).await;
        client.unwrap().write(b"hi").await.unwrap();
        assert_eq!(accepted.unwrap().read(2).await.unwrap(), b"hi");
    });
}
