//! A TCP socket made and used in one `event::run`, then used in a second one after the first
//! ended: its operations must not hang on the ended loop (whose timers never fire again).

mod common;

use std::time::{Duration, Instant};

#[test]
fn a_socket_of_an_ended_loop_fails_clearly_instead_of_hanging() {
    let (client, server) = event::run(async {
        let (client, server) = common::pair().await;
        let err = server
            .read(16)
            .timeout(Duration::from_millis(10))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        (client, server)
    });
    let start = Instant::now();
    let err = common::run(async {
        server
            .read(16)
            .timeout(Duration::from_millis(100))
            .await
            .unwrap_err()
    });
    common::assert_failed_as_another_loops(&err, start);
    drop(client);
}
