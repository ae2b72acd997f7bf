//! A client that speaks plain HTTP to the TLS port fails the handshake and is closed (no hang,
//! no panic), and the server goes on serving TLS clients.
#![cfg(feature = "tls")]

mod common;

use std::io::Write;
use std::sync::Arc;

#[test]
fn plain_http_on_the_tls_port_is_closed_and_tls_still_works() {
    let (config, cert) = common::tls::server_config();
    let client = common::tls::client_config(&cert, &[b"http/1.1"]);
    let (_, report) = common::with_server(
        move |server| server.tls(Arc::new(config)),
        move |addr| {
            let mut plain = common::connect(addr);
            plain
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            assert!(common::ends(&mut plain), "the plain client must be closed");

            let mut tls = common::tls::connect_std(addr, client);
            let reply = common::exchange(&mut tls, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, b"Hello, world!\n");
        },
    );
    assert_eq!(report.cut, 0, "{report}");
}
