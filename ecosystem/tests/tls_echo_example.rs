//! Runs the TLS echo example (`examples/tls_echo.rs`) as a child process and talks to it with a
//! blocking rustls client that trusts the certificate the example wrote.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("event-tls-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn client_config(cert_pem: &std::path::Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    assert_eq!(roots.len(), 1);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn connect(
    server: &common::ExampleProcess,
    config: &Arc<rustls::ClientConfig>,
    name: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn tls_echo_example_echoes_100_kib_intact() {
    let dir = TempDir::new();
    let cert = dir.0.join("cert.pem");
    let server =
        common::ExampleProcess::example("tls_echo", &["--cert-out", cert.to_str().unwrap()]);
    assert!(server.addr.ip().is_loopback());
    let config = client_config(&cert);

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
    let config = client_config(&cert);
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
