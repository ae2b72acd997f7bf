//! TLS helpers: a self-signed certificate (rcgen), the server's config, clients that trust it
//! (blocking rustls over std, or futures-rustls over an event `Socket`).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use event::{Socket, SocketAddress};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

/// A server config for a fresh self-signed certificate of `localhost` (no ALPN set: the server
/// sets it), and the certificate for clients to trust.
pub fn server_config() -> (rustls::ServerConfig, CertificateDer<'static>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    (config, cert.der().clone())
}

/// A client config trusting `cert` and offering `alpn` (in that order; empty: no ALPN).
pub fn client_config(cert: &CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A blocking TLS client of `addr` (10 s timeouts), its handshake done.
pub fn connect_std(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = super::connect(addr);
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    stream
}

/// A TLS client of `addr` on the running loop, its handshake done.
pub async fn connect(addr: SocketAddress, config: Arc<rustls::ClientConfig>) -> TlsStream<Socket> {
    let socket = Socket::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(config)
        .connect(name, socket)
        .await
        .unwrap()
}
