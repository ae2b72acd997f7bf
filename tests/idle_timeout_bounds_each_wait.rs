//! What `ListenOptions::idle_timeout` does, exactly as documented: it bounds each read's wait
//! for the next bytes, not the connection's life. A client trickling a byte well inside the
//! timeout is never cut; the read after it goes silent fails with `Timeout` once the timeout
//! has passed.
mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use event::{ListenOptions, SocketError};

const IDLE: Duration = Duration::from_millis(600);
const EVERY: Duration = Duration::from_millis(100);
const BYTES: usize = 12;

#[test]
fn a_steady_trickle_survives_the_idle_timeout_and_silence_does_not() {
    common::run(async {
        let server = ListenOptions::new()
            .idle_timeout(IDLE)
            .listen_on("127.0.0.1:0")
            .unwrap();
        let addr = server.local_address().to_std();
        // A slowloris on a thread: one byte every 100 ms for 1.2 s (twice the idle timeout),
        // then silence with the connection open.
        let trickler = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            for _ in 0..BYTES {
                s.write_all(b"x").unwrap();
                std::thread::sleep(EVERY);
            }
            std::thread::sleep(IDLE * 2);
            drop(s);
        });
        let client = server.accept().await.unwrap();
        assert_eq!(client.read_timeout(), Some(IDLE));
        let start = Instant::now();
        let mut got = 0;
        let mut last = Instant::now();
        let err = loop {
            match client.read(64).await {
                Ok(bytes) => {
                    got += bytes.len();
                    last = Instant::now();
                }
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, SocketError::Timeout { op: "read", after, .. } if after == IDLE),
            "{err}"
        );
        assert_eq!(got, BYTES, "the trickle was cut after {got} bytes");
        assert!(
            start.elapsed() > IDLE,
            "the connection outlived one idle timeout"
        );
        assert!(
            last.elapsed() >= IDLE - Duration::from_millis(20),
            "{:?}",
            last.elapsed()
        );
        trickler.join().unwrap();
    });
}
