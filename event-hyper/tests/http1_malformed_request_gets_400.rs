//! A request hyper cannot parse is answered `400 Bad Request` and the connection closed.

mod common;

#[test]
fn garbage_gets_400() {
    let (status, _) = common::with_server(
        |server| server,
        |addr| {
            let mut stream = common::connect(addr);
            let reply = common::exchange(&mut stream, b"GET / HTTP/1.1\r\nHo st\x01: x\r\n\r\n");
            assert!(common::is_closed(&mut stream));
            reply.status
        },
    );
    assert_eq!(status, 400);
}
