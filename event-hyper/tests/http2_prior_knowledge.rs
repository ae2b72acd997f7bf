//! HTTP/2 with prior knowledge through `Server` (auto-detected), from hyper's HTTP/2 client on
//! the same loop: several concurrent streams on one connection, each its own task (LocalExec).

mod common;

use event::{Shutdown, Socket};
use event_hyper::{HyperIo, LocalExec, Protocols, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Version};

async fn h2_requests(protocols: Protocols) {
    let listener = common::listen_local();
    let addr = listener.local_address();
    let shutdown = Shutdown::new();
    let server = event::spawn(
        Server::new(listener)
            .shutdown(&shutdown)
            .protocols(protocols)
            .serve(hyper::service::service_fn(common::handler)),
    );
    let socket = Socket::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(LocalExec, HyperIo::new(socket))
        .await
        .unwrap();
    let conn = event::spawn(conn);
    let mut streams = Vec::new();
    for i in 0..8 {
        let mut sender = sender.clone();
        streams.push(event::spawn(async move {
            let request = Request::post("http://t/echo")
                .body(Full::new(Bytes::from(format!("stream {i}"))))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.version(), Version::HTTP_2);
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        }));
    }
    for (i, stream) in streams.into_iter().enumerate() {
        assert_eq!(stream.await.unwrap(), format!("stream {i}").as_bytes());
    }
    drop(sender);
    shutdown.trigger();
    let report = server.await.unwrap();
    assert_eq!(report.cut, 0, "{report}");
    let _ = conn.await;
}

#[test]
fn auto_detects_http2_and_serves_concurrent_streams() {
    common::run(h2_requests(Protocols::Auto));
}

#[test]
fn http2_only_serves_too() {
    common::run(h2_requests(Protocols::Http2));
}
