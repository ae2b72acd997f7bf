//! The body limit reads the length hyper parsed (`size_hint`), on HTTP/1 and on HTTP/2 with
//! prior knowledge: a declared length over the limit gets 413 without the service being called
//! (checked on `POST /`, whose handler never reads the body and would answer 200), a declared
//! length exactly at the limit is served, and a body of unknown length (chunked on HTTP/1,
//! DATA frames without `content-length` on HTTP/2) that grows past the limit still fails to
//! read (the handler answers 413). With `Expect: 100-continue` the 413 comes instead of the
//! 100; on HTTP/2 the connection serves on after a 413.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use event::{Shutdown, Socket};
use event_hyper::{HyperIo, LocalExec, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::{Request, StatusCode, Version};

const LIMIT: usize = 1000;

#[test]
fn http1_declared_length_over_the_limit_is_refused_before_the_service() {
    let (reply, _) = common::with_server(
        |server| server.max_body_bytes(LIMIT),
        |addr| {
            let mut stream = common::connect(addr);
            common::exchange(
                &mut stream,
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n",
            )
        },
    );
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("connection"), Some("close"));
}

#[test]
fn http1_expect_continue_over_the_limit_gets_413_instead_of_100() {
    let (reply, _) = common::with_server(
        |server| server.max_body_bytes(LIMIT),
        |addr| {
            let mut stream = common::connect(addr);
            common::exchange(
                &mut stream,
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\
                  Expect: 100-continue\r\n\r\n",
            )
        },
    );
    assert_eq!(reply.status, 413);
}

#[test]
fn http1_declared_length_at_the_limit_reaches_the_service() {
    let (replies, _) = common::with_server(
        |server| server.max_body_bytes(LIMIT),
        |addr| {
            let mut stream = common::connect(addr);
            let mut request =
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".to_vec();
            request.extend_from_slice(&[b'a'; LIMIT]);
            let hello = common::exchange(&mut stream, &request);
            let mut request =
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".to_vec();
            request.extend_from_slice(&[b'b'; LIMIT]);
            let echo = common::exchange(&mut stream, &request);
            (hello, echo)
        },
    );
    assert_eq!(replies.0.status, 200);
    assert_eq!(replies.0.body, b"Hello, world!\n");
    assert_eq!(replies.1.status, 200);
    assert_eq!(replies.1.body, vec![b'b'; LIMIT]);
}

#[test]
fn http1_chunked_body_over_the_limit_fails_to_read() {
    let (reply, _) = common::with_server(
        |server| server.max_body_bytes(LIMIT),
        |addr| {
            let mut stream = common::connect(addr);
            let chunk = "c".repeat(600);
            let request = format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                 258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
            );
            common::exchange(&mut stream, request.as_bytes())
        },
    );
    assert_eq!(reply.status, 413);
}

/// A body of unknown length: `chunks` chunks of `size` bytes.
struct Unsized {
    chunks: usize,
    size: usize,
}

impl Body for Unsized {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.chunks == 0 {
            return Poll::Ready(None);
        }
        self.chunks -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'u'; self.size])))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Sends each request on one HTTP/2 prior-knowledge connection to a server with the limit;
/// returns each response's status and body.
async fn h2_exchange<B>(requests: Vec<Request<B>>) -> Vec<(StatusCode, Bytes)>
where
    B: Body<Data = Bytes> + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = common::listen_local();
    let addr = listener.local_address();
    let shutdown = Shutdown::new();
    let server = event::spawn(
        Server::new(listener)
            .shutdown(&shutdown)
            .max_body_bytes(LIMIT)
            .serve(hyper::service::service_fn(common::handler)),
    );
    let socket = Socket::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(LocalExec, HyperIo::new(socket))
        .await
        .unwrap();
    let conn = event::spawn(conn);
    let mut out = Vec::new();
    for request in requests {
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        out.push((status, body));
    }
    drop(sender);
    shutdown.trigger();
    server.await.unwrap();
    let _ = conn.await;
    out
}

#[test]
fn http2_declared_length_over_the_limit_is_refused_before_the_service() {
    let replies = common::run(h2_exchange(vec![
        Request::post("http://t/")
            .body(Full::new(Bytes::from(vec![b'o'; LIMIT + 1])))
            .unwrap(),
    ]));
    assert_eq!(replies[0].0, StatusCode::PAYLOAD_TOO_LARGE, "{replies:?}");
}

#[test]
fn http2_declared_length_at_the_limit_is_served() {
    let replies = common::run(h2_exchange(vec![
        Request::post("http://t/echo")
            .body(Full::new(Bytes::from(vec![b'e'; LIMIT])))
            .unwrap(),
    ]));
    assert_eq!(replies[0].0, StatusCode::OK);
    assert_eq!(replies[0].1, vec![b'e'; LIMIT]);
}

#[test]
fn http2_body_of_unknown_length_over_the_limit_fails_to_read() {
    let replies = common::run(h2_exchange(vec![
        Request::post("http://t/echo")
            .body(Unsized {
                chunks: 3,
                size: 600,
            })
            .unwrap(),
    ]));
    assert_eq!(replies[0].0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn http2_connection_serves_on_after_a_413() {
    // HTTP/2 multiplexes: the refused stream is reset, the connection goes on (the
    // `Connection: close` of HTTP/1's 413 has no meaning there).
    let replies = common::run(h2_exchange(vec![
        Request::post("http://t/")
            .body(Full::new(Bytes::from(vec![b'o'; LIMIT + 1])))
            .unwrap(),
        Request::post("http://t/echo")
            .body(Full::new(Bytes::from_static(b"after")))
            .unwrap(),
    ]));
    assert_eq!(replies[0].0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(replies[1].0, StatusCode::OK);
    assert_eq!(replies[1].1, &b"after"[..]);
}
