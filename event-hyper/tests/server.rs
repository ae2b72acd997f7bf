//! `Server` beyond HTTP/1's details: HTTP/2, axum routers, graceful shutdown, the connection
//! limit, `HyperIo` reads and the loop's timer. One module per behaviour (each was its own test
//! binary).

mod common;

mod http2_prior_knowledge {
    //! HTTP/2 with prior knowledge through `Server` (auto-detected), from hyper's HTTP/2 client on
    //! the same loop: several concurrent streams on one connection, each its own task (LocalExec).

    use crate::common;

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
}

mod axum_router {
    //! An axum `Router` served by `Server::serve_tower` over real sockets: two routes and a JSON
    //! extractor (and axum's own 422 for JSON it cannot take).

    use crate::common;

    use axum::extract::Path;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use event::Shutdown;
    use event_hyper::Server;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize)]
    struct Add {
        a: i64,
        b: i64,
    }

    #[derive(Serialize)]
    struct Sum {
        sum: i64,
    }

    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { "hello from axum" }))
            .route(
                "/greet/{name}",
                get(|Path(name): Path<String>| async move { format!("hello, {name}") }),
            )
            .route(
                "/add",
                post(|Json(add): Json<Add>| async move { Json(Sum { sum: add.a + add.b }) }),
            )
    }

    #[test]
    fn two_routes_and_a_json_extractor() {
        common::run(async {
            let listener = common::listen_local();
            let addr = common::std_addr(&listener);
            let shutdown = Shutdown::new();
            let server = event::spawn(Server::new(listener).shutdown(&shutdown).serve_tower(app()));
            common::on_thread(move || {
                let mut stream = common::connect(addr);
                let root = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(root.status, 200);
                assert_eq!(root.body, b"hello from axum");
                let greet =
                    common::exchange(&mut stream, b"GET /greet/event HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(greet.status, 200);
                assert_eq!(greet.body, b"hello, event");
                let json = br#"{"a": 40, "b": 2}"#;
                let mut request = format!(
                    "POST /add HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                    json.len()
                )
                .into_bytes();
                request.extend_from_slice(json);
                let sum = common::exchange(&mut stream, &request);
                assert_eq!(sum.status, 200);
                assert_eq!(sum.header("content-type"), Some("application/json"));
                assert_eq!(sum.body, br#"{"sum":42}"#);
                let bad = br#"{"a": "forty"}"#;
                let mut request = format!(
                    "POST /add HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                    bad.len()
                )
                .into_bytes();
                request.extend_from_slice(bad);
                assert_eq!(common::exchange(&mut stream, &request).status, 422);
                let missing =
                    common::exchange(&mut stream, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(missing.status, 404);
            })
            .await;
            shutdown.trigger();
            assert_eq!(server.await.unwrap().cut, 0);
        });
    }
}

mod server_graceful_shutdown {
    //! Graceful shutdown through `Shutdown`: the listener closes, an idle keep-alive connection is
    //! closed at once, an in-flight request finishes (with `Connection: close`), and a request
    //! still running at the drain deadline is cut.

    use crate::common;

    use std::io::Write;
    use std::thread;
    use std::time::{Duration, Instant};

    use event::Shutdown;
    use event_hyper::Server;

    #[test]
    fn idle_closes_in_flight_finishes_the_rest_is_cut() {
        common::run(async {
            let listener = common::listen_local();
            let addr = common::std_addr(&listener);
            let shutdown = Shutdown::new();
            let server = Server::new(listener)
                .shutdown(&shutdown)
                .drain_timeout(Duration::from_millis(600));
            let server = event::spawn(server.serve(hyper::service::service_fn(common::handler)));

            // Three clients: idle after one request, one request of 300 ms, one of 30 s.
            let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
            let clients = thread::spawn(move || {
                let mut idle = common::connect(addr);
                assert_eq!(
                    common::exchange(&mut idle, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status,
                    200
                );
                let mut short = common::connect(addr);
                short
                    .write_all(b"GET /sleep/300 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                let mut long = common::connect(addr);
                long.write_all(b"GET /sleep/30000 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                thread::sleep(Duration::from_millis(100)); // let both requests reach their handler
                ready_tx.send(()).unwrap();
                let start = Instant::now();
                assert!(common::is_closed(&mut idle), "the idle connection closes");
                let idle_closed = start.elapsed();
                let reply = common::read_reply(&mut short);
                assert_eq!(reply.status, 200);
                assert_eq!(reply.body, b"slept\n");
                assert_eq!(reply.header("connection"), Some("close"));
                assert!(common::is_closed(&mut short));
                assert!(common::is_closed(&mut long), "the long request is cut");
                let long_cut = start.elapsed();
                // No new connection after the trigger.
                let refused = std::net::TcpStream::connect(addr).is_err();
                (idle_closed, long_cut, refused)
            });
            while ready_rx.try_recv().is_err() {
                event::sleep(Duration::from_millis(2)).await;
            }
            shutdown.trigger();
            let report = server.await.unwrap();
            let (idle_closed, long_cut, refused) =
                common::on_thread(move || clients.join().unwrap()).await;
            assert!(
                idle_closed < Duration::from_millis(250),
                "idle closed after {idle_closed:?}"
            );
            assert!(
                long_cut >= Duration::from_millis(500),
                "cut before the deadline: {long_cut:?}"
            );
            assert!(long_cut < Duration::from_secs(10), "cut late: {long_cut:?}");
            assert!(refused, "the listener is closed");
            assert_eq!(report.cut, 1, "{report}");
            assert_eq!(report.finished, 2, "{report}");
        });
    }
}

mod server_max_connections {
    //! `ListenOptions::max_connections` limits the server's connections: at the limit the next
    //! client waits in the backlog and is served once a place is free.

    use crate::common;

    use std::thread;
    use std::time::Duration;

    use event::{ListenOptions, Shutdown, SocketAddress};
    use event_hyper::Server;

    #[test]
    fn the_second_client_waits_for_the_first_to_leave() {
        common::run(async {
            let listener = ListenOptions::new()
                .max_connections(1)
                .listen_on(SocketAddress::localhost(0))
                .unwrap();
            let addr = common::std_addr(&listener);
            let shutdown = Shutdown::new();
            let server = event::spawn(
                Server::new(listener)
                    .shutdown(&shutdown)
                    .serve(hyper::service::service_fn(common::handler)),
            );
            let order = common::on_thread(move || {
                let mut first = common::connect(addr);
                assert_eq!(
                    common::exchange(&mut first, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status,
                    200
                );
                // The second connects (the kernel's backlog takes it) but is not served yet.
                let mut second = common::connect(addr);
                second
                    .set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                use std::io::Write;
                second
                    .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                let mut byte = [0u8; 1];
                let waited = matches!(
                    std::io::Read::read(&mut second, &mut byte),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut
                );
                drop(first);
                second
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let reply = common::read_reply(&mut second);
                thread::sleep(Duration::from_millis(10));
                (waited, reply.status)
            })
            .await;
            assert_eq!(order, (true, 200));
            shutdown.trigger();
            server.await.unwrap();
        });
    }
}

mod io_reads_into_uninit {
    //! `HyperIo` as hyper's `Read`: every byte arrives, in order, through hyper's uninitialised
    //! `ReadBuf` (filled by `Socket::poll_read_uninit`), then end of stream is an empty read.

    use crate::common;

    use std::future::poll_fn;
    use std::mem::MaybeUninit;
    use std::pin::Pin;

    use event::Socket;
    use event_hyper::HyperIo;
    use hyper::rt::{Read, ReadBuf};

    fn pattern(i: usize) -> u8 {
        (i * 131 % 251) as u8
    }

    #[test]
    fn every_byte_in_order_then_end_of_stream() {
        common::run(async {
            let listener = common::listen_local();
            let client = Socket::connect(listener.local_address()).await.unwrap();
            let accepted = listener.accept().await.unwrap();
            const TOTAL: usize = 512 * 1024 + 17;
            let writer = event::spawn(async move {
                let bytes: Vec<u8> = (0..TOTAL).map(pattern).collect();
                client.write(&bytes).await.unwrap();
                client.shutdown_write().unwrap();
                client
            });
            let mut io = HyperIo::new(accepted);
            let mut storage = vec![MaybeUninit::<u8>::uninit(); 7000];
            let mut received = 0;
            loop {
                let mut buf = ReadBuf::uninit(&mut storage);
                poll_fn(|cx| Pin::new(&mut io).poll_read(cx, buf.unfilled()))
                    .await
                    .unwrap();
                let filled = buf.filled();
                if filled.is_empty() {
                    break;
                }
                for (k, &b) in filled.iter().enumerate() {
                    assert_eq!(b, pattern(received + k), "byte {}", received + k);
                }
                received += filled.len();
            }
            assert_eq!(received, TOTAL);
            drop(writer.await.unwrap());
        });
    }
}

mod timer_sleeps_on_the_loop {
    //! `LoopTimer`: its sleeps are `Send + Sync` (as hyper requires), fire at their deadline on the
    //! loop, follow `reset` earlier and later, leave nothing behind when dropped, and panic with a
    //! clear message where no loop drives them.

    use crate::common;

    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use event_hyper::{LoopSleep, LoopTimer};
    use hyper::rt::Timer;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn sleeps_are_send_and_sync() {
        assert_send_sync::<LoopSleep>();
        assert_send_sync::<LoopTimer>();
    }

    #[test]
    fn a_sleep_fires_at_its_deadline() {
        common::run(async {
            let start = Instant::now();
            LoopTimer.sleep(Duration::from_millis(30)).await;
            assert!(start.elapsed() >= Duration::from_millis(30));
        });
    }

    #[test]
    fn reset_moves_the_deadline_both_ways() {
        common::run(async {
            let start = Instant::now();
            let mut sleep = LoopTimer.sleep(Duration::from_secs(3600));
            // Poll once so a driver task is armed for the far deadline, then bring it closer.
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
            LoopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(20));
            sleep.as_mut().await;
            let first = start.elapsed();
            assert!(first >= Duration::from_millis(20) && first < Duration::from_secs(10));

            // Later: armed for 10 ms, moved to 60 ms: it must not fire at 10 ms.
            let start = Instant::now();
            let mut sleep = LoopTimer.sleep(Duration::from_millis(10));
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
            LoopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(60));
            sleep.as_mut().await;
            assert!(start.elapsed() >= Duration::from_millis(60));

            // After firing, a reset re-arms.
            let start = Instant::now();
            LoopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(15));
            sleep.as_mut().await;
            assert!(start.elapsed() >= Duration::from_millis(15));
        });
    }

    #[test]
    fn a_dropped_sleep_leaves_no_task_behind() {
        common::run(async {
            let mut sleep = LoopTimer.sleep(Duration::from_secs(3600));
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
            // Dropped on another thread (it is Send): its driver task on this loop ends.
            std::thread::spawn(move || drop(sleep)).join().unwrap();
            for _ in 0..10 {
                event::yield_now().await;
            }
            // The loop is not kept busy: a short sleep of our own still completes promptly, and
            // the test ends (a leaked hour-long task would not block it, but a panic would show).
            event::sleep(Duration::from_millis(5)).await;
        });
    }

    #[test]
    fn polling_where_no_loop_runs_panics_clearly() {
        let result = std::panic::catch_unwind(|| {
            let mut sleep = LoopSleep::until(Instant::now() + Duration::from_secs(60));
            let mut cx = Context::from_waker(Waker::noop());
            let _ = Pin::new(&mut sleep).poll(&mut cx);
        });
        let panic = result.unwrap_err();
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap();
        assert!(message.contains("no event loop"), "{message}");
    }

    #[test]
    fn a_sleep_polled_on_another_threads_loop_moves_there_and_fires() {
        common::run(async {
            let deadline = Instant::now() + Duration::from_millis(30);
            let mut sleep = LoopSleep::until(deadline);
            assert!(futures_poll_once(Pin::new(&mut sleep)).is_pending());
            // Another thread with a loop of its own awaits it: the sleep moves to that loop.
            std::thread::spawn(move || {
                event::run(async move {
                    sleep.await;
                    assert!(Instant::now() >= deadline);
                })
            })
            .join()
            .unwrap();
        });
    }

    #[test]
    fn many_sleeps_armed_and_dropped_leave_the_loop_idle() {
        common::run(async {
            // A header-read sleep per request, as hyper makes them: armed, then dropped early.
            for _ in 0..10_000 {
                let mut sleep = LoopTimer.sleep(Duration::from_secs(10));
                assert!(futures_poll_once(sleep.as_mut()).is_pending());
            }
            // None of them keeps a wheel entry or a task: a short sleep completes, and a fresh
            // long sleep still waits.
            event::sleep(Duration::from_millis(5)).await;
            let mut sleep = LoopTimer.sleep(Duration::from_millis(20));
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
            sleep.as_mut().await;
        });
    }

    /// Polls `future` once with a waker that does nothing.
    fn futures_poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        future.poll(&mut cx)
    }
}
