//! `LoopTimer`: its sleeps are `Send + Sync` (as hyper requires), fire at their deadline on the
//! loop, follow `reset` earlier and later, leave nothing behind when dropped, and panic with a
//! clear message where no loop drives them.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use event_hyper::{LoopSleep, LoopTimer};
use hyper::rt::Timer;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn sleeps_are_send_and_sync() {
    assert_send_sync::<LoopSleep>();
    assert_send_sync::<LoopTimer>();
}

#[test]
fn a_sleep_fires_at_its_deadline() {
    common::run(async {
        let start = Instant::now();
        LoopTimer.sleep(Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn reset_moves_the_deadline_both_ways() {
    common::run(async {
        let start = Instant::now();
        let mut sleep = LoopTimer.sleep(Duration::from_secs(3600));
        // Poll once so a driver task is armed for the far deadline, then bring it closer.
        assert!(futures_poll_once(sleep.as_mut()).is_pending());
        LoopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(20));
        sleep.as_mut().await;
        let first = start.elapsed();
        assert!(first >= Duration::from_millis(20) && first < Duration::from_secs(10));

        // Later: armed for 10 ms, moved to 60 ms: it must not fire at 10 ms.
        let start = Instant::now();
        let mut sleep = LoopTimer.sleep(Duration::from_millis(10));
        assert!(futures_poll_once(sleep.as_mut()).is_pending());
        LoopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(60));
        sleep.as_mut().await;
        assert!(start.elapsed() >= Duration::from_millis(60));

        // After firing, a reset re-arms.
        let start = Instant::now();
        LoopTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(15));
        sleep.as_mut().await;
        assert!(start.elapsed() >= Duration::from_millis(15));
    });
}

#[test]
fn a_dropped_sleep_leaves_no_task_behind() {
    common::run(async {
        let mut sleep = LoopTimer.sleep(Duration::from_secs(3600));
        assert!(futures_poll_once(sleep.as_mut()).is_pending());
        // Dropped on another thread (it is Send): its driver task on this loop ends.
        std::thread::spawn(move || drop(sleep)).join().unwrap();
        for _ in 0..10 {
            event::yield_now().await;
        }
        // The loop is not kept busy: a short sleep of our own still completes promptly, and
        // the test ends (a leaked hour-long task would not block it, but a panic would show).
        event::sleep(Duration::from_millis(5)).await;
    });
}

#[test]
fn polling_where_no_loop_runs_panics_clearly() {
    let result = std::panic::catch_unwind(|| {
        let mut sleep = LoopSleep::until(Instant::now() + Duration::from_secs(60));
        let mut cx = Context::from_waker(Waker::noop());
        let _ = Pin::new(&mut sleep).poll(&mut cx);
    });
    let panic = result.unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(message.contains("no event loop"), "{message}");
}

#[test]
fn a_sleep_polled_on_another_threads_loop_moves_there_and_fires() {
    common::run(async {
        let deadline = Instant::now() + Duration::from_millis(30);
        let mut sleep = LoopSleep::until(deadline);
        assert!(futures_poll_once(Pin::new(&mut sleep)).is_pending());
        // Another thread with a loop of its own awaits it: the sleep moves to that loop.
        std::thread::spawn(move || {
            event::run(async move {
                sleep.await;
                assert!(Instant::now() >= deadline);
            })
        })
        .join()
        .unwrap();
    });
}

#[test]
fn many_sleeps_armed_and_dropped_leave_the_loop_idle() {
    common::run(async {
        // A header-read sleep per request, as hyper makes them: armed, then dropped early.
        for _ in 0..10_000 {
            let mut sleep = LoopTimer.sleep(Duration::from_secs(10));
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
        }
        // None of them keeps a wheel entry or a task: a short sleep completes, and a fresh
        // long sleep still waits.
        event::sleep(Duration::from_millis(5)).await;
        let mut sleep = LoopTimer.sleep(Duration::from_millis(20));
        assert!(futures_poll_once(sleep.as_mut()).is_pending());
        sleep.as_mut().await;
    });
}

/// Polls `future` once with a waker that does nothing.
fn futures_poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    future.poll(&mut cx)
}
