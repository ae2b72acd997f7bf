//! The server's idle timeout (the socket's read timeout, under hyper's reads) bounds each
//! wait, not the connection: a keep-alive client sending a request well inside the timeout
//! each time is served however long it stays, the timer kept armed between requests never
//! cuts it early, and once the client goes silent the connection closes about one timeout
//! after its last response.

mod common;

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
