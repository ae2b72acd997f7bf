//! Hostile clients: two peers flood the echo server (sending as fast as they can while reading
//! the echo back) beside a third doing 64-byte ping-pong. The ping-pong must make progress
//! and every byte of all three must come back as sent. Its round-trip times are printed for
//! information (fairness figures belong in BENCHMARKS.md); only a bound of seconds is asserted.
mod common;

use std::time::{Duration, Instant};

use common::clients::{PingPong, StreamPlan, Streamer, mib, summary, wait_until};
use common::echo_process::EchoServer;

/// The ping-pong runs at least this long beside the flood...
const PING_FOR: Duration = Duration::from_secs(3);
/// ...and must complete at least this many round trips...
const MIN_ROUND_TRIPS: usize = 50;
/// ...within this long.
const PROGRESS_LIMIT: Duration = Duration::from_secs(20);
/// No round trip may take longer than this (a stall, not a latency target).
const WORST_ROUND_TRIP: Duration = Duration::from_secs(5);

#[test]
fn ping_pong_makes_progress_beside_two_flooders_and_every_byte_is_echoed() {
    let Some(echo) = EchoServer::start("hostile_flood", &[]) else {
        return;
    };
    let flooders: Vec<Streamer> = (0..2)
        .map(|i| Streamer::start(echo.addr, 0xF100D + i, StreamPlan::flood()))
        .collect();
    // The flood is on once both echo back.
    assert!(
        wait_until(Duration::from_secs(20), || flooders
            .iter()
            .all(|f| f.echoed() >= 4 << 20)),
        "the flooders got {:?} bytes back in 20 s",
        flooders.iter().map(Streamer::echoed).collect::<Vec<_>>()
    );
    let flood_before: Vec<u64> = flooders.iter().map(Streamer::echoed).collect();

    let mut ping = PingPong::new(echo.addr, 0x9196, 64);
    let start = Instant::now();
    let mut times = Vec::new();
    let mut failure = None;
    while (start.elapsed() < PING_FOR || times.len() < MIN_ROUND_TRIPS)
        && start.elapsed() < PROGRESS_LIMIT
    {
        match ping.round_trip() {
            Ok(t) => times.push(t),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let pinged_for = start.elapsed();
    let flood_during: Vec<u64> = flooders
        .iter()
        .zip(&flood_before)
        .map(|(f, before)| f.echoed() - before)
        .collect();
    for f in &flooders {
        f.stop();
    }
    let outcomes: Vec<_> = flooders.into_iter().map(Streamer::finish).collect();
    let closed = ping.close();

    println!(
        "hostile_flood [{}]: ping-pong {} in {pinged_for:.1?}; flooders echoed {:.0} and {:.0} MiB \
         meanwhile ({:.0} MiB/s together)",
        echo.backend,
        summary(&times),
        mib(flood_during[0]),
        mib(flood_during[1]),
        mib(flood_during.iter().sum()) / pinged_for.as_secs_f64()
    );
    if let Some(e) = failure {
        panic!("ping-pong failed after {} round trips: {e}", times.len());
    }
    closed.expect("ping-pong close");
    for o in &outcomes {
        assert!(o.whole(), "flooder: {o:?}");
    }
    assert!(
        times.len() >= MIN_ROUND_TRIPS,
        "only {} round trips in {pinged_for:?} beside the flood",
        times.len()
    );
    let worst = times.iter().max().unwrap();
    assert!(
        *worst < WORST_ROUND_TRIP,
        "a round trip took {worst:?} beside the flood"
    );
    for (i, d) in flood_during.iter().enumerate() {
        assert!(*d > 0, "flooder {i} got nothing back during the ping-pong");
    }
}
