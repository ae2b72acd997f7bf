//! HTTP/1 through `Server`: keep-alive, half-close, idle and header timeouts, malformed and
//! oversized requests, the body limit, and upgrades. One module per behaviour (each was its own
//! test binary).

mod common;

mod http1_keep_alive_serves_several_requests {
    //! HTTP/1.1 through `Server`: several requests on one kept-alive connection (GET, POST with a
    //! body, 404), each answered in order.

    use crate::common;

    #[test]
    fn one_connection_serves_get_post_and_404_in_turn() {
        let (_, report) = common::with_server(
            |server| server,
            |addr| {
                let mut stream = common::connect(addr);
                let hello = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(hello.status, 200);
                assert_eq!(hello.body, b"Hello, world!\n");
                let body = vec![b'x'; 100_000];
                let mut post = format!(
                    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                post.extend_from_slice(&body);
                let echoed = common::exchange(&mut stream, &post);
                assert_eq!(echoed.status, 200);
                assert_eq!(echoed.body, body);
                let missing =
                    common::exchange(&mut stream, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(missing.status, 404);
            },
        );
        assert_eq!(report.cut, 0);
    }
}

mod http1_half_close_still_gets_the_response {
    //! A client that shuts its write side right after its request still gets the response.

    use crate::common;

    use std::io::Write;
    use std::net::Shutdown;

    #[test]
    fn request_then_shutdown_write_gets_the_response() {
        let (reply, _) = common::with_server(
            |server| server,
            |addr| {
                let mut stream = common::connect(addr);
                stream
                    .write_all(b"GET /sleep/50 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                stream.shutdown(Shutdown::Write).unwrap();
                common::read_reply(&mut stream)
            },
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"slept\n");
    }
}

mod http1_idle_timeout_counts_from_the_last_request {
    //! The server's idle timeout (the socket's read timeout, under hyper's reads) bounds each
    //! wait, not the connection: a keep-alive client sending a request well inside the timeout
    //! each time is served however long it stays, the timer kept armed between requests never
    //! cuts it early, and once the client goes silent the connection closes about one timeout
    //! after its last response.

    use crate::common;

    use std::time::{Duration, Instant};

    const IDLE: Duration = Duration::from_millis(300);

    #[test]
    fn a_steady_keep_alive_client_is_served_and_closed_one_timeout_after_it_stops() {
        let (outcome, _) = common::with_server(
            |server| server.header_read_timeout(None).idle_timeout(Some(IDLE)),
            |addr| {
                let mut stream = common::connect(addr);
                // Five requests 200 ms apart: ~1 s in all, more than three timeouts.
                let mut statuses = Vec::new();
                for i in 0..5 {
                    if i > 0 {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    let reply = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                    statuses.push(reply.status);
                }
                let last = Instant::now();
                let closed = common::is_closed(&mut stream);
                (statuses, closed, last.elapsed())
            },
        );
        let (statuses, closed, silent_for) = outcome;
        assert_eq!(statuses, [200; 5]);
        assert!(closed, "the connection was not closed");
        // The server's wait starts as it sends the response, a little before the client has it.
        assert!(
            silent_for >= IDLE - Duration::from_millis(20),
            "closed {silent_for:?} after the last response"
        );
        assert!(
            silent_for < IDLE * 4,
            "closed late: {silent_for:?} after the last response"
        );
    }
}

mod http1_malformed_request_gets_400 {
    //! A request hyper cannot parse is answered `400 Bad Request` and the connection closed.

    use crate::common;

    #[test]
    fn garbage_gets_400() {
        let (status, _) = common::with_server(
            |server| server,
            |addr| {
                let mut stream = common::connect(addr);
                let reply =
                    common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHo st\x01: x\r\n\r\n");
                assert!(common::is_closed(&mut stream));
                reply.status
            },
        );
        assert_eq!(status, 400);
    }
}

mod http1_oversized_head_gets_431 {
    //! A request head over `max_header_bytes` is answered `431 Request Header Fields Too Large`.

    use crate::common;

    use std::io::Write;

    #[test]
    fn a_100_kib_header_gets_431_at_the_64_kib_default() {
        let (status, _) = common::with_server(
            |server| server,
            |addr| {
                let mut stream = common::connect(addr);
                let big = "a".repeat(100 * 1024);
                let request = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n");
                // The server may answer and close before taking everything: ignore a failed write.
                let _ = stream.write_all(request.as_bytes());
                common::read_reply(&mut stream).status
            },
        );
        assert_eq!(status, 431);
    }

    #[test]
    fn a_head_under_the_limit_is_served() {
        let (status, _) = common::with_server(
            |server| server.max_header_bytes(128 * 1024),
            |addr| {
                let mut stream = common::connect(addr);
                let big = "a".repeat(100 * 1024);
                let request = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n");
                common::exchange(&mut stream, request.as_bytes()).status
            },
        );
        assert_eq!(status, 200);
    }
}

mod http1_slow_header_is_cut {
    //! A client that never finishes its request head is cut at the header-read timeout (300 ms
    //! here; generous bounds: this is a behaviour test, not a measurement).

    use crate::common;

    use std::io::Write;
    use std::time::{Duration, Instant};

    #[test]
    fn an_unfinished_head_is_cut_at_the_header_read_timeout() {
        let (elapsed, _) = common::with_server(
            |server| server.header_read_timeout(Some(Duration::from_millis(300))),
            |addr| {
                let mut stream = common::connect(addr);
                let start = Instant::now();
                // More than HTTP/2's 24-byte preface, so the connection is known to be HTTP/1.
                stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: slow.example\r\nX-Slow: ")
                    .unwrap();
                assert!(common::is_closed(&mut stream), "the server must close");
                start.elapsed()
            },
        );
        assert!(
            elapsed >= Duration::from_millis(250),
            "cut too early: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "cut too late: {elapsed:?}"
        );
    }

    #[test]
    fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
        let (elapsed, _) = common::with_server(
            |server| server.header_read_timeout(Some(Duration::from_millis(300))),
            |addr| {
                let mut stream = common::connect(addr);
                let reply = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(reply.status, 200);
                let start = Instant::now();
                assert!(common::is_closed(&mut stream));
                start.elapsed()
            },
        );
        assert!(
            elapsed >= Duration::from_millis(250),
            "closed too early: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "closed too late: {elapsed:?}"
        );
    }
}

mod http1_body_over_limit_gets_413 {
    //! A request body over `max_body_bytes` gets `413 Payload Too Large`: at once for a declared
    //! `Content-Length` (the service is not called), and through the limited body for a chunked
    //! one.

    use crate::common;

    use std::io::Write;

    #[test]
    fn a_declared_length_over_the_limit_gets_413_without_reading_it() {
        let (reply, _) = common::with_server(
            |server| server.max_body_bytes(1000),
            |addr| {
                let mut stream = common::connect(addr);
                stream
                    .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
                    .unwrap();
                common::read_reply(&mut stream)
            },
        );
        assert_eq!(reply.status, 413);
        assert_eq!(reply.header("connection"), Some("close"));
    }

    #[test]
    fn a_body_at_the_limit_is_served() {
        let (reply, _) = common::with_server(
            |server| server.max_body_bytes(1000),
            |addr| {
                let mut stream = common::connect(addr);
                let mut request =
                    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".to_vec();
                request.extend_from_slice(&[b'y'; 1000]);
                common::exchange(&mut stream, &request)
            },
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body.len(), 1000);
    }

    #[test]
    fn a_chunked_body_growing_past_the_limit_fails_to_read() {
        let (reply, _) = common::with_server(
            |server| server.max_body_bytes(1000),
            |addr| {
                let mut stream = common::connect(addr);
                let chunk = "z".repeat(800);
                let request = format!(
                    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                 320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
                );
                common::exchange(&mut stream, request.as_bytes())
            },
        );
        // The test handler answers a body it could not collect with 413.
        assert_eq!(reply.status, 413);
    }
}

mod body_limit_on_the_length_hyper_parsed {
    //! The body limit reads the length hyper parsed (`size_hint`), on HTTP/1 and on HTTP/2 with
    //! prior knowledge: a declared length over the limit gets 413 without the service being called
    //! (checked on `POST /`, whose handler never reads the body and would answer 200), a declared
    //! length exactly at the limit is served, and a body of unknown length (chunked on HTTP/1,
    //! DATA frames without `content-length` on HTTP/2) that grows past the limit still fails to
    //! read (the handler answers 413). With `Expect: 100-continue` the 413 comes instead of the
    //! 100; on HTTP/2 the connection serves on after a 413.

    use crate::common;

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
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(LocalExec, HyperIo::new(socket))
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
}

mod http1_upgrade_round_trip {
    //! An HTTP/1 upgrade (`Connection: upgrade`, 101 Switching Protocols) through `Server`: after
    //! the 101 both sides exchange raw bytes over the same socket, every byte checked.

    use crate::common;

    use std::io::{Read, Write};

    #[test]
    fn raw_bytes_flow_both_ways_after_101() {
        let (echoed, report) = common::with_server(
            |server| server,
            |addr| {
                let mut stream = common::connect(addr);
                let reply = common::exchange(
                &mut stream,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
                assert_eq!(reply.status, 101);
                assert_eq!(reply.header("upgrade"), Some("echo"));
                // 1 MiB in 64 KiB pieces, each read back before the next is sent.
                let data = common::pattern(1 << 20, 5);
                let mut back = vec![0; 64 * 1024];
                for chunk in data.chunks(back.len()) {
                    stream.write_all(chunk).unwrap();
                    stream.read_exact(&mut back[..chunk.len()]).unwrap();
                    assert!(&back[..chunk.len()] == chunk, "echoed bytes differ");
                }
                // Our end of stream ends the echo, which closes its side.
                stream.shutdown(std::net::Shutdown::Write).unwrap();
                assert!(common::is_closed(&mut stream));
                data.len()
            },
        );
        assert_eq!(echoed, 1 << 20);
        assert_eq!(report.cut, 0, "{report}");
    }
}

mod http1_upgraded_connection_is_cut_at_the_drain_deadline {
    //! An upgraded connection counts as in flight: the shutdown's drain waits for it and, at the
    //! deadline, closes its socket (the task holding the `Upgraded` then gets an error), so the
    //! drain still ends.

    use crate::common;

    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    use event::Shutdown;
    use event_hyper::Server;

    #[test]
    fn the_drain_ends_at_its_deadline_with_an_upgraded_connection_open() {
        common::run(async {
            let listener = common::listen_local();
            let addr = common::std_addr(&listener);
            let shutdown = Shutdown::new();
            let server = Server::new(listener)
                .shutdown(&shutdown)
                .drain_timeout(Duration::from_millis(400));
            let server = event::spawn(server.serve(hyper::service::service_fn(common::handler)));
            let mut stream = common::on_thread(move || {
                let mut stream = common::connect(addr);
                let reply = common::exchange(
                &mut stream,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
                assert_eq!(reply.status, 101);
                stream.write_all(b"still here").unwrap();
                let mut back = [0; 10];
                stream.read_exact(&mut back).unwrap();
                assert_eq!(&back, b"still here");
                stream
            })
            .await;
            let start = Instant::now();
            shutdown.trigger();
            let report = server.await.unwrap();
            let drained = start.elapsed();
            assert_eq!(report.cut, 1, "{report}");
            assert!(
                drained >= Duration::from_millis(300),
                "cut early: {drained:?}"
            );
            assert!(drained < Duration::from_secs(10), "cut late: {drained:?}");
            let closed = common::on_thread(move || common::is_closed(&mut stream)).await;
            assert!(closed, "the upgraded connection's socket is closed");
        });
    }
}

mod http1_upgraded_off_its_thread {
    //! hyper's `Upgraded` must be `Send`; the server's is a ticket to a socket that stays on its
    //! loop's thread. Sent to another thread it fails to read (it never touches the socket there),
    //! and dropping it there still closes the connection, from its own loop.

    use crate::common;

    use std::io::Read;
    use std::sync::mpsc;

    use event_hyper::Server;
    use futures_util::io::AsyncReadExt;
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::upgrade::Upgraded;
    use hyper::{Request, Response};

    #[test]
    fn another_thread_gets_an_error_and_its_drop_closes_the_socket() {
        let (tx, rx) = mpsc::channel::<std::io::ErrorKind>();
        let handler = move |request: Request<event_hyper::RequestBody>| {
            let tx = tx.clone();
            async move {
                let send = move |upgraded: Upgraded| {
                    std::thread::spawn(move || {
                        let kind = event::run(async move {
                            let mut io = event_hyper::Compat::new(upgraded);
                            let mut buf = [0; 16];
                            io.read(&mut buf).await.unwrap_err().kind()
                        });
                        tx.send(kind).unwrap();
                    });
                };
                Ok::<Response<Full<Bytes>>, std::convert::Infallible>(common::upgrade(
                    request, send,
                ))
            }
        };
        common::run(async {
            let listener = common::listen_local();
            let addr = common::std_addr(&listener);
            let server = Server::new(listener);
            let shutdown = server.shutdown_handle().clone();
            let server = event::spawn(server.serve(hyper::service::service_fn(handler)));
            let closed = common::on_thread(move || {
                let mut stream = common::connect(addr);
                let reply = common::exchange(
                &mut stream,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
                assert_eq!(reply.status, 101);
                let mut byte = [0; 1];
                matches!(stream.read(&mut byte), Ok(0))
            })
            .await;
            assert!(closed, "the connection closes when the Upgraded is dropped");
            assert_eq!(rx.recv().unwrap(), std::io::ErrorKind::Unsupported);
            shutdown.trigger();
            let report = server.await.unwrap();
            assert_eq!(report.cut, 0, "{report}");
        });
    }
}

mod http1_upgrades_off {
    //! `Server::upgrades(false)`: hyper holds the socket itself; requests are served as usual, and
    //! an upgrade the handler accepts goes nowhere (hyper ends the connection after the response
    //! instead of switching to raw bytes).

    use crate::common;

    use std::io::Write;

    #[test]
    fn requests_are_served_and_an_upgrade_ends_the_connection() {
        let (served, report) = common::with_server(
            |server| server.upgrades(false),
            |addr| {
                let mut stream = common::connect(addr);
                let reply = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(reply.status, 200);
                // Kept alive: a second request on the same connection.
                let reply = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(reply.status, 200);
                let mut stream = common::connect(addr);
                let reply = common::exchange(
                &mut stream,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
                assert_eq!(reply.status, 101);
                // No echo behind the 101: the connection ends.
                let _ = stream.write_all(b"anyone?");
                assert!(common::is_closed(&mut stream));
                2
            },
        );
        assert_eq!(served, 2);
        assert_eq!(report.cut, 0, "{report}");
    }
}
