//! What the TLS examples share: a self-signed certificate made at start.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server config with a fresh self-signed certificate for `localhost` and `127.0.0.1` (no
/// ALPN: the server sets what it needs), the certificate written in PEM to `cert_out` if given.
pub fn self_signed_config(
    cert_out: Option<&Path>,
) -> Result<rustls::ServerConfig, Box<dyn std::error::Error>> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names)?;
    if let Some(path) = cert_out {
        std::fs::write(path, cert.pem())
            .map_err(|e| format!("--cert-out {}: {e}", path.display()))?;
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    // Name the provider: `ServerConfig::builder()` would panic if a second one were compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)?;
    Ok(config)
}
