//! Graceful shutdown over TLS is plain HTTP's: when it triggers, a client still in its
//! handshake and an idle keep-alive connection are closed at once, an in-flight request
//! finishes (with `Connection: close`), and nothing is cut.
#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use event::Shutdown;
use event_hyper::Server;

/// Whether `stream` ends (cleanly, by a reset, or without close_notify) before its read timeout.
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
