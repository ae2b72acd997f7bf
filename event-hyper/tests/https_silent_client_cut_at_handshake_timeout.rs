//! The TLS handshake runs under the header-read timeout: a client that connects and sends
//! nothing, or stops halfway through its ClientHello, is cut then (300 ms here, far below the
//! 60 s idle timeout; the bounds are generous: a behaviour test, not a measurement).
#![cfg(feature = "tls")]

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn silent_and_stalled_handshakes_are_cut() {
    let (config, _) = common::tls::server_config();
    let (elapsed, _) = common::with_server(
        move |server| {
            server
                .tls(Arc::new(config))
                .header_read_timeout(Some(Duration::from_millis(300)))
        },
        |addr| {
            let start = Instant::now();
            let mut silent = common::connect(addr);
            // A TLS record header announcing a 200-byte handshake message, and 3 of its bytes.
            let mut stalled = common::connect(addr);
            stalled
                .write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00])
                .unwrap();
            assert!(common::ends(&mut silent), "the silent client must be cut");
            assert!(common::ends(&mut stalled), "the stalled client must be cut");
            start.elapsed()
        },
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "cut too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "cut too late: {elapsed:?}"
    );
}
