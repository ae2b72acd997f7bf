//! Hostile conditions: the server is stopped (SIGSTOP) for 2 s in the middle of several streams
//! and continued (SIGCONT). The streams must resume and every byte come back as sent.
mod common;

use std::time::Duration;

use common::clients::{StreamPlan, Streamer, mib, wait_until};
use common::echo_process::EchoServer;

const STREAMS: u64 = 4;
const STOPPED_FOR: Duration = Duration::from_secs(2);

/// Continues the server however the test ends, so a failed step never leaves it stopped.
struct Continue<'a>(&'a EchoServer);

impl Drop for Continue<'_> {
    fn drop(&mut self) {
        let _ = common::sys::kill(self.0.pid(), libc::SIGCONT);
    }
}

#[test]
fn streams_survive_sigstop_and_sigcont_with_every_byte_echoed() {
    let Some(echo) = EchoServer::start("hostile_sigstop", &[]) else {
        return;
    };
    let plan = StreamPlan {
        limit: u64::MAX,
        chunk: 64 * 1024,
        pause: Some(Duration::from_millis(1)),
    };
    let streams: Vec<Streamer> = (0..STREAMS)
        .map(|i| Streamer::start(echo.addr, 0x5709 + i, plan))
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || streams
            .iter()
            .all(|s| s.echoed() >= 1 << 20)),
        "the streams did not get going"
    );

    let guard = Continue(&echo);
    echo.signal(libc::SIGSTOP);
    assert!(
        wait_until(Duration::from_secs(1), || echo.state() == 'T'),
        "the server is not stopped: state {}",
        echo.state()
    );
    std::thread::sleep(STOPPED_FOR / 4);
    let frozen: Vec<u64> = streams.iter().map(Streamer::echoed).collect();
    std::thread::sleep(STOPPED_FOR * 3 / 4);
    let still: Vec<u64> = streams.iter().map(Streamer::echoed).collect();
    echo.signal(libc::SIGCONT);
    drop(guard);

    // Every stream moves on by another MiB after the server is continued.
    let resumed = wait_until(Duration::from_secs(10), || {
        streams
            .iter()
            .zip(&still)
            .all(|(s, before)| s.echoed() >= before + (1 << 20))
    });
    for s in &streams {
        s.stop();
    }
    let outcomes: Vec<_> = streams.into_iter().map(Streamer::finish).collect();
    println!(
        "hostile_sigstop [{}]: stopped {STOPPED_FOR:?} mid-stream; echoed per stream {:?} MiB",
        echo.backend,
        outcomes
            .iter()
            .map(|o| format!("{:.1}", mib(o.echoed)))
            .collect::<Vec<_>>()
    );
    assert_eq!(frozen, still, "echoes arrived while the server was stopped");
    assert!(resumed, "the streams did not resume after SIGCONT");
    for o in &outcomes {
        assert!(o.whole(), "stream: {o:?}");
    }
}
