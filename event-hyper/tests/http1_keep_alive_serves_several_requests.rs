//! HTTP/1.1 through `Server`: several requests on one kept-alive connection (GET, POST with a
//! body, 404), each answered in order.

mod common;

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
            let missing = common::exchange(&mut stream, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(missing.status, 404);
        },
    );
    assert_eq!(report.cut, 0);
}
