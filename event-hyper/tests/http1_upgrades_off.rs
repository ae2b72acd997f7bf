//! `Server::upgrades(false)`: hyper holds the socket itself; requests are served as usual, and
//! an upgrade the handler accepts goes nowhere (hyper ends the connection after the response
//! instead of switching to raw bytes).

mod common;

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
