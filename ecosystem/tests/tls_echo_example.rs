//! Runs the TLS echo example (`examples/tls_echo.rs`) as a child process and talks to it with a
//! blocking rustls client that trusts the certificate the example wrote.
#[path = "../../tests/common/mod.rs"]
mod common;

mod tls_client;

use std::io::{Read, Write};

use tls_client::{TempDir, client_config};

fn connect(
    server: &common::ExampleProcess,
    config: &std::sync::Arc<rustls::ClientConfig>,
    name: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    tls_client::connect(server.addr, config, name)
}

#[test]
fn tls_echo_example_echoes_100_kib_intact() {
    let dir = TempDir::new();
    let cert = dir.0.join("cert.pem");
    let server =
        common::ExampleProcess::example("tls_echo", &["--cert-out", cert.to_str().unwrap()]);
    assert!(server.addr.ip().is_loopback());
    let config = client_config(&cert, &[]);

    let mut tls = connect(&server, &config, "localhost");
    let msg = common::pattern(100 * 1024, 11);
    tls.write_all(&msg).unwrap();
    tls.flush().unwrap();
    let mut back = vec![0; msg.len()];
    tls.read_exact(&mut back).unwrap();
    assert!(back == msg, "echoed bytes differ");
    // Both ends default to TLS 1.3 (the example also allows 1.2).
    assert_eq!(
        tls.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );

    // Our close_notify: the server answers with its own, a clean end of stream (Ok(0)).
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn tls_echo_certificate_is_valid_for_the_ip_address_too() {
    let dir = TempDir::new();
    let cert = dir.0.join("cert.pem");
    let server =
        common::ExampleProcess::example("tls_echo", &["--cert-out", cert.to_str().unwrap()]);
    let config = client_config(&cert, &[]);
    let mut tls = connect(&server, &config, "127.0.0.1");
    tls.write_all(b"ping\n").unwrap();
    let mut back = [0; 5];
    tls.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping\n");

    // A name the certificate does not cover fails the handshake.
    let mut wrong = connect(&server, &config, "example.com");
    let err = wrong
        .write_all(b"x")
        .and_then(|_| wrong.flush())
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[test]
fn tls_echo_and_http_help_is_on_stdout_and_exits_zero() {
    for name in ["tls_echo", "http"] {
        let out = common::run_example(&common::example_binary(name), &["--help"]);
        assert!(out.status.success(), "{name}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--addr"),
            "{name}: {out:?}"
        );
    }
}
