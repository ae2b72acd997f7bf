mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::DropGuard;

#[test]
fn timeout_fires_and_drops_the_inner_future() {
    let dropped = Rc::new(Cell::new(false));
    let guard = DropGuard(dropped.clone());
    let lp = event::EventLoop::new().unwrap();
    lp.block_on(async {
        let start = Instant::now();
        let inner = async move {
            let _guard = guard;
            std::future::pending::<()>().await
        };
        let mut fut = std::pin::pin!(event::timeout(Duration::from_millis(20), inner));
        let result = (&mut fut).await;
        assert!(result.is_err());
        assert!(start.elapsed() >= Duration::from_millis(20));
        // Dropped as soon as the timeout fired, while the Timeout itself is still alive.
        assert!(dropped.get());
    });
    assert_eq!(lp.stats().timers, 0);
}

#[test]
fn timeout_passes_through_a_fast_result_and_disarms() {
    let lp = event::EventLoop::new().unwrap();
    let out = lp.block_on(event::timeout(Duration::from_secs(10), async {
        event::sleep(Duration::from_millis(1)).await;
        9
    }));
    assert_eq!(out, Ok(9));
    assert_eq!(lp.stats().timers, 0);
}

#[test]
fn elapsed_error_is_distinct_and_printable() {
    let err =
        common::run(event::timeout(Duration::ZERO, std::future::pending::<()>())).unwrap_err();
    assert_eq!(err.to_string(), "deadline has elapsed");
}

#[test]
fn very_long_and_infinite_timeouts_neither_hang_nor_panic() {
    common::run(async {
        // Past the timing wheel's two-year span, and Duration::MAX ("never").
        let long = event::timeout(
            Duration::from_secs(1000 * 86_400),
            event::sleep(Duration::from_millis(20)),
        );
        assert_eq!(long.await, Ok(()));
        assert_eq!(event::timeout(Duration::MAX, async { 1 }).await, Ok(1));
        let forever = event::timeout(Duration::MAX, event::sleep(Duration::from_millis(5)));
        assert_eq!(forever.await, Ok(()));
    });
}
