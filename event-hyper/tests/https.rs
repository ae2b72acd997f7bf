//! HTTPS through `Server::tls` (the `tls` feature): ALPN, graceful shutdown, a plain-HTTP
//! client, the handshake timeout and upgrades over TLS. One module per behaviour (each was its
//! own test binary).

#![cfg(feature = "tls")]

mod common;

mod https_alpn_chooses_the_protocol {
    //! HTTPS through `Server::tls`: ALPN picks HTTP/2 for a client offering `h2` and HTTP/1.1 for
    //! one offering `http/1.1` (hyper's clients over futures-rustls on the same loop); a client
    //! that offers nothing is served by detection, and an ALPN list of the user's own is kept.

    use crate::common;

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
    async fn echo_http1(
        addr: SocketAddress,
        config: Arc<rustls::ClientConfig>,
        alpn: Option<&[u8]>,
    ) {
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
}

mod https_graceful_shutdown {
    //! Graceful shutdown over TLS is plain HTTP's: when it triggers, a client still in its
    //! handshake and an idle keep-alive connection are closed at once, an in-flight request
    //! finishes (with `Connection: close`), and nothing is cut.

    use crate::common;

    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use event::Shutdown;
    use event_hyper::Server;

    /// Whether `stream` ends (cleanly, by a reset, or without close_notify) before its read
    /// timeout.
    fn ends(stream: &mut impl Read) -> bool {
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    #[test]
    fn handshaking_and_idle_close_at_once_in_flight_finishes() {
        let (config, cert) = common::tls::server_config();
        let client = common::tls::client_config(&cert, &[b"http/1.1"]);
        common::run(async move {
            let listener = common::listen_local();
            let addr = common::std_addr(&listener);
            let shutdown = Shutdown::new();
            let server = Server::new(listener)
                .shutdown(&shutdown)
                .tls(Arc::new(config))
                .drain_timeout(Duration::from_secs(5));
            let server = event::spawn(server.serve(hyper::service::service_fn(common::handler)));

            let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
            let clients = thread::spawn(move || {
                let mut idle = common::tls::connect_std(addr, client.clone());
                let reply = common::exchange(&mut idle, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(reply.status, 200);
                let mut busy = common::tls::connect_std(addr, client);
                busy.write_all(b"GET /sleep/300 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                busy.flush().unwrap();
                let mut handshaking = common::connect(addr);
                thread::sleep(Duration::from_millis(100)); // the request reaches its handler
                ready_tx.send(()).unwrap();
                let start = Instant::now();
                assert!(
                    common::ends(&mut handshaking),
                    "the handshaking client closes"
                );
                assert!(ends(&mut idle), "the idle connection closes");
                let closed = start.elapsed();
                let reply = common::read_reply(&mut busy);
                assert_eq!(reply.status, 200);
                assert_eq!(reply.body, b"slept\n");
                assert_eq!(reply.header("connection"), Some("close"));
                closed
            });
            while ready_rx.try_recv().is_err() {
                event::sleep(Duration::from_millis(2)).await;
            }
            shutdown.trigger();
            let report = server.await.unwrap();
            let closed = common::on_thread(move || clients.join().unwrap()).await;
            assert!(closed < Duration::from_secs(2), "closed after {closed:?}");
            assert_eq!(report.cut, 0, "{report}");
            assert_eq!(report.finished, 3, "{report}");
        });
    }
}

mod https_plain_client_is_closed {
    //! A client that speaks plain HTTP to the TLS port fails the handshake and is closed (no hang,
    //! no panic), and the server goes on serving TLS clients.

    use crate::common;

    use std::io::Write;
    use std::sync::Arc;

    #[test]
    fn plain_http_on_the_tls_port_is_closed_and_tls_still_works() {
        let (config, cert) = common::tls::server_config();
        let client = common::tls::client_config(&cert, &[b"http/1.1"]);
        let (_, report) = common::with_server(
            move |server| server.tls(Arc::new(config)),
            move |addr| {
                let mut plain = common::connect(addr);
                plain
                    .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                assert!(common::ends(&mut plain), "the plain client must be closed");

                let mut tls = common::tls::connect_std(addr, client);
                let reply = common::exchange(&mut tls, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                assert_eq!(reply.status, 200);
                assert_eq!(reply.body, b"Hello, world!\n");
            },
        );
        assert_eq!(report.cut, 0, "{report}");
    }
}

mod https_silent_client_cut_at_handshake_timeout {
    //! The TLS handshake runs under the header-read timeout: a client that connects and sends
    //! nothing, or stops halfway through its ClientHello, is cut then (300 ms here, far below the
    //! 60 s idle timeout; the bounds are generous: a behaviour test, not a measurement).

    use crate::common;

    use std::io::Write;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn silent_and_stalled_handshakes_are_cut() {
        let (config, _) = common::tls::server_config();
        let (elapsed, _) = common::with_server(
            move |server| {
                server
                    .tls(Arc::new(config))
                    .header_read_timeout(Some(Duration::from_millis(300)))
            },
            |addr| {
                let start = Instant::now();
                let mut silent = common::connect(addr);
                // A TLS record header announcing a 200-byte handshake message, and 3 of its bytes.
                let mut stalled = common::connect(addr);
                stalled
                    .write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00])
                    .unwrap();
                assert!(common::ends(&mut silent), "the silent client must be cut");
                assert!(common::ends(&mut stalled), "the stalled client must be cut");
                start.elapsed()
            },
        );
        assert!(
            elapsed >= Duration::from_millis(250),
            "cut too early: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(10),
            "cut too late: {elapsed:?}"
        );
    }
}

mod https_upgrade_round_trip {
    //! An HTTP/1 upgrade over TLS: after the 101 the raw bytes flow through the same TLS session
    //! both ways, every byte checked.

    use crate::common;

    use std::io::{Read, Write};
    use std::sync::Arc;

    #[test]
    fn raw_bytes_flow_both_ways_over_tls_after_101() {
        let (config, cert) = common::tls::server_config();
        let client = common::tls::client_config(&cert, &[b"http/1.1"]);
        let (_, report) = common::with_server(
            move |server| server.tls(Arc::new(config)),
            move |addr| {
                let mut tls = common::tls::connect_std(addr, client);
                let reply = common::exchange(
                &mut tls,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
                assert_eq!(reply.status, 101);
                let data = common::pattern(256 * 1024, 9);
                let mut back = vec![0; 16 * 1024];
                for chunk in data.chunks(back.len()) {
                    tls.write_all(chunk).unwrap();
                    tls.flush().unwrap();
                    tls.read_exact(&mut back[..chunk.len()]).unwrap();
                    assert!(&back[..chunk.len()] == chunk, "echoed bytes differ");
                }
            },
        );
        assert_eq!(report.cut, 0, "{report}");
    }
}
