//! tokio-based crates from event tasks, through tokio's runtime context: with a (one-worker)
//! tokio runtime entered on the thread (`Runtime::enter`, held around `event::run`), reqwest
//! (rustls, no default features) makes requests from an event task to a server on the same
//! event loop. reqwest's sockets and timers live on the tokio runtime's worker, which drives
//! their I/O and wakes the event task from there (a cross-thread wake, which the loop takes);
//! the connection tasks reqwest spawns run on that worker too.

use std::convert::Infallible;
use std::time::Duration;

use event::{Shutdown, Socket, SocketAddress};
use event_hyper::{RequestBody, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};

async fn handler(request: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{path} {}",
        String::from_utf8_lossy(&body)
    )))))
}

/// The runtime the compat path needs: one worker thread, I/O and time drivers on.
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn reqwest_from_an_event_task_with_the_runtime_entered() {
    let tokio = tokio_runtime();
    let _context = tokio.enter(); // tokio::spawn, tokio::net, tokio::time now find a runtime
    event::run(async {
        let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
        let url = format!("http://{}", listener.local_address());
        let shutdown = Shutdown::new();
        let server = event::spawn(
            Server::new(listener)
                .shutdown(&shutdown)
                .serve(hyper::service::service_fn(handler)),
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        // Several requests on reqwest's pooled connection, from a task spawned on the loop.
        let task = event::spawn(async move {
            let mut replies = Vec::new();
            for i in 0..3 {
                let reply = client
                    .post(format!("{url}/n/{i}"))
                    .body(format!("body {i}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 200);
                replies.push(reply.text().await.unwrap());
            }
            // tokio's timer works here too.
            tokio::time::sleep(Duration::from_millis(5)).await;
            replies
        });
        let replies = task.await.unwrap();
        assert_eq!(replies, ["/n/0 body 0", "/n/1 body 1", "/n/2 body 2"]);
        shutdown.trigger();
        server.await.unwrap();
    });
}

#[test]
fn without_the_runtime_tokio_io_panics_with_tokios_message() {
    let result = std::panic::catch_unwind(|| {
        event::run(async {
            let _ = tokio::time::sleep(Duration::from_millis(1)).await;
        })
    });
    let panic = result.unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("no reactor running"), "{message}");
}
