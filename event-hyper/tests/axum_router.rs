//! An axum `Router` served by `Server::serve_tower` over real sockets: two routes and a JSON
//! extractor (and axum's own 422 for JSON it cannot take).

mod common;

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
            let missing = common::exchange(&mut stream, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(missing.status, 404);
        })
        .await;
        shutdown.trigger();
        assert_eq!(server.await.unwrap().cut, 0);
    });
}
