//! HTTPS: rustls (through futures-rustls, over the socket's futures-io traits) in front of the
//! server's connections, with ALPN choosing HTTP/2 or HTTP/1.1.

use std::io;
use std::sync::Arc;

use event::Socket;
use futures_rustls::TlsAcceptor;
use rustls::ServerConfig;

use crate::Compat;
use crate::server::Protocols;
use crate::upgrade::LocalIo;

const H2: &[u8] = b"h2";
const HTTP11: &[u8] = b"http/1.1";

/// The acceptor for `config`, with ALPN set to what `protocols` speaks unless the config
/// already names protocols (then the user's list is kept as it is).
pub(crate) fn acceptor(config: Arc<ServerConfig>, protocols: Protocols) -> TlsAcceptor {
    if !config.alpn_protocols.is_empty() {
        return TlsAcceptor::from(config);
    }
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = match protocols {
        Protocols::Auto => vec![H2.to_vec(), HTTP11.to_vec()],
        Protocols::Http1 => vec![HTTP11.to_vec()],
        Protocols::Http2 => vec![H2.to_vec()],
    };
    TlsAcceptor::from(Arc::new(config))
}

/// The TLS handshake on `socket`, and what to speak after it: what ALPN chose, or `protocols`
/// where the client named none (or a protocol that is not HTTP).
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    socket: Socket,
    protocols: Protocols,
) -> io::Result<(Box<dyn LocalIo>, Protocols)> {
    let stream = acceptor.accept(socket).await?;
    let chosen = match stream.get_ref().1.alpn_protocol() {
        Some(H2) => Protocols::Http2,
        Some(HTTP11) => Protocols::Http1,
        _ => protocols,
    };
    Ok((Box::new(Compat::new(stream)), chosen))
}
