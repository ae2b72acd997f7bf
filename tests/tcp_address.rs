use std::net::SocketAddr;

use event::{SocketAddress, SocketError};

#[test]
fn constructors_and_conversions_round_trip() {
    let v4 = SocketAddress::ipv4("127.0.0.1", 8080).unwrap();
    let v6 = SocketAddress::ipv6("::1", 9090).unwrap();
    assert_eq!(
        SocketAddr::from(v4),
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(SocketAddress::from(SocketAddr::from(v6)), v6);
    assert_eq!(SocketAddress::ipv6("[::1]", 9090).unwrap(), v6);
    assert_eq!(SocketAddress::any_ipv4(80).to_string(), "0.0.0.0:80");
    assert_eq!("[::1]:9090".parse::<SocketAddress>().unwrap(), v6);
    assert!(v6.is_ipv6() && !v4.is_ipv6());
    assert_eq!(v4.port(), 8080);
}

#[test]
fn malformed_text_is_invalid_address_naming_the_input() {
    for (text, port) in [
        ("256.0.0.1", 1),
        ("1.2.3", 1),
        ("", 1),
        ("localhost", 1),
        ("::1", 1),
    ] {
        match SocketAddress::ipv4(text, port) {
            Err(SocketError::InvalidAddress { input, .. }) => assert_eq!(input, text),
            other => panic!("{text:?}: expected InvalidAddress, got {other:?}"),
        }
    }
    for text in ["::g", "1.2.3.4", "[::1", ""] {
        assert!(matches!(
            SocketAddress::ipv6(text, 1),
            Err(SocketError::InvalidAddress { .. })
        ));
    }
    for text in [
        "127.0.0.1",
        "127.0.0.1:99999",
        "::1:80",
        "host:80",
        ":80",
        "[::1]:x",
    ] {
        let err = text.parse::<SocketAddress>().unwrap_err();
        assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
