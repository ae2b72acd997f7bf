//! A UDP socket made and used in one `event::run`, then used in a second one after the first
//! ended: its operations must not hang on the ended loop (whose timers never fire again). A
//! receive with a timeout ends (with an error that says why), and nothing hangs.

mod common;

use std::time::{Duration, Instant};

use event::UdpSocket;

#[test]
fn a_socket_of_an_ended_loop_fails_clearly_instead_of_hanging() {
    let socket = event::run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Used here: it belongs to this loop from now on. A receive that waits registers it.
        let err = socket
            .recv_from(&mut [0u8; 16])
            .timeout(Duration::from_millis(10))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        socket
    });
    let start = Instant::now();
    let err = common::run(async {
        socket
            .recv_from(&mut [0u8; 16])
            .timeout(Duration::from_millis(100))
            .await
            .unwrap_err()
    });
    common::assert_failed_as_another_loops(&err, start);
}
