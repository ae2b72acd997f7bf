//! Hostile conditions: SIGTERM reaches the server while clients are mid-transfer (sending and
//! reading). The draining server must let them finish: each client gets every byte it sent
//! back, as sent (or sees a reset: never a clean end of stream after missing bytes), and the
//! server exits 0 within the drain timeout and a second.
mod common;

use std::time::{Duration, Instant};

use common::clients::{StreamPlan, Streamer, mib, wait_until};
use common::echo_process::EchoServer;

const CLIENTS: u64 = 6;
const DRAIN: Duration = Duration::from_secs(5);
/// Each client's transfer: 16 MiB at about 12 MB/s, so most of it happens after the signal.
const PLAN: StreamPlan = StreamPlan {
    limit: 16 << 20,
    chunk: 64 * 1024,
    pause: Some(Duration::from_millis(5)),
};

#[test]
fn sigterm_mid_transfer_loses_no_byte_and_exits_zero_in_time() {
    let Some(mut echo) = EchoServer::start("hostile_sigterm", &["--drain-timeout", "5"]) else {
        return;
    };
    let clients: Vec<Streamer> = (0..CLIENTS)
        .map(|i| Streamer::start(echo.addr, 0x7E53 + i, PLAN))
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || clients
            .iter()
            .all(|c| c.echoed() >= 1 << 20)),
        "the transfers did not get going"
    );
    echo.signal(libc::SIGTERM);
    let signalled = Instant::now();
    let sent_at_signal: Vec<u64> = clients.iter().map(Streamer::sent).collect();

    let outcomes: Vec<_> = clients.into_iter().map(Streamer::finish).collect();
    let transfers_done = signalled.elapsed();
    let status = echo.wait_exit(DRAIN + Duration::from_secs(3));
    let exited = signalled.elapsed();
    let resets = outcomes.iter().filter(|o| !o.whole()).count();
    println!(
        "hostile_sigterm [{}]: SIGTERM with {CLIENTS} clients at {:.1} MiB sent of {} on \
         average; transfers done {transfers_done:.2?} and server exit {exited:.2?} after the \
         signal (limit {:?}); {resets} reset; server said {:?}",
        echo.backend,
        mib(sent_at_signal.iter().sum::<u64>() / CLIENTS),
        PLAN.limit >> 20,
        DRAIN + Duration::from_secs(1),
        echo.stdout().trim()
    );
    for (i, sent) in sent_at_signal.iter().enumerate() {
        assert!(
            *sent < PLAN.limit,
            "client {i} had sent everything before the signal"
        );
    }
    for o in &outcomes {
        assert!(
            o.whole_or_reset(),
            "client {:#x}: a clean end of stream after missing bytes, or an altered byte: {o:?}",
            o.seed
        );
    }
    let status =
        status.unwrap_or_else(|| panic!("the server had not exited {exited:?} after SIGTERM"));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; stderr: {}",
        echo.stderr()
    );
    assert!(
        exited < DRAIN + Duration::from_secs(1),
        "the server exited {exited:?} after SIGTERM with a drain timeout of {DRAIN:?}"
    );
}
