//! hyper's `Upgraded` must be `Send`; the server's is a ticket to a socket that stays on its
//! loop's thread. Sent to another thread it fails to read (it never touches the socket there),
//! and dropping it there still closes the connection, from its own loop.

mod common;

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
            Ok::<Response<Full<Bytes>>, std::convert::Infallible>(common::upgrade(request, send))
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
