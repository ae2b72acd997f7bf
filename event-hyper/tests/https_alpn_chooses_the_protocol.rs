//! HTTPS through `Server::tls`: ALPN picks HTTP/2 for a client offering `h2` and HTTP/1.1 for
//! one offering `http/1.1` (hyper's clients over futures-rustls on the same loop); a client that
//! offers nothing is served by detection, and an ALPN list of the user's own is kept.
#![cfg(feature = "tls")]

mod common;

use std::sync::Arc;

use event::{Shutdown, SocketAddress};
use event_hyper::{Compat, LocalExec, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Version};

/// Serves `common::handler` over TLS with `config` while `client` runs on the loop.
async fn with_tls_server<F: Future<Output = ()>>(
    config: rustls::ServerConfig,
    client: impl FnOnce(SocketAddress) -> F,
) {
    let listener = common::listen_local();
    let addr = listener.local_address();
    let shutdown = Shutdown::new();
    let server = event::spawn(
        Server::new(listener)
            .shutdown(&shutdown)
            .tls(Arc::new(config))
            .serve(hyper::service::service_fn(common::handler)),
    );
    client(addr).await;
    shutdown.trigger();
    let report = server.await.unwrap();
    assert_eq!(report.cut, 0, "{report}");
}

fn echo_request(body: &'static str) -> Request<Full<Bytes>> {
    Request::post("https://localhost/echo")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// One POST /echo over HTTP/2 on a TLS connection to `addr` offering `alpn`.
async fn echo_h2(addr: SocketAddress, config: Arc<rustls::ClientConfig>) {
    let tls = common::tls::connect(addr, config).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(LocalExec, Compat::new(tls))
        .await
        .unwrap();
    let conn = event::spawn(conn);
    let response = sender.send_request(echo_request("over h2")).await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "over h2");
    drop(sender);
    let _ = conn.await;
}

/// One POST /echo over HTTP/1.1 on a TLS connection to `addr`; `alpn` is what ALPN must say.
async fn echo_http1(addr: SocketAddress, config: Arc<rustls::ClientConfig>, alpn: Option<&[u8]>) {
    let tls = common::tls::connect(addr, config).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), alpn);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(Compat::new(tls))
        .await
        .unwrap();
    let conn = event::spawn(conn);
    let response = sender
        .send_request(echo_request("over http/1.1"))
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "over http/1.1");
    drop(sender);
    let _ = conn.await;
}

#[test]
fn h2_and_http1_clients_are_both_served() {
    let (config, cert) = common::tls::server_config();
    common::run(with_tls_server(config, |addr| async move {
        echo_h2(
            addr,
            common::tls::client_config(&cert, &[b"h2", b"http/1.1"]),
        )
        .await;
        let http1 = common::tls::client_config(&cert, &[b"http/1.1"]);
        echo_http1(addr, http1, Some(b"http/1.1")).await;
        // No ALPN at all: the first bytes tell.
        echo_http1(addr, common::tls::client_config(&cert, &[]), None).await;
    }));
}

#[test]
fn the_users_own_alpn_list_is_kept() {
    let (mut config, cert) = common::tls::server_config();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    common::run(with_tls_server(config, |addr| async move {
        let both = common::tls::client_config(&cert, &[b"h2", b"http/1.1"]);
        echo_http1(addr, both, Some(b"http/1.1")).await;
    }));
}
