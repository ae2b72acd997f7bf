mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::DropGuard;

#[test]
fn cancel_drops_the_future_and_releases_its_timer() {
    let lp = event::EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let guard = DropGuard(dropped.clone());
    lp.block_on(async {
        let handle = event::spawn(async move {
            let _guard = guard;
            event::sleep(Duration::from_secs(3600)).await;
        });
        event::yield_now().await;
        assert!(!dropped.get(), "the task is sleeping, not dropped");
        assert_eq!(handle.cancel().await, None);
        assert!(dropped.get(), "cancel dropped the future");
    });
    assert_eq!(
        lp.stats().timers,
        0,
        "the cancelled sleep left no timer armed"
    );
}

#[test]
fn cancel_without_awaiting_still_cancels() {
    let dropped = Rc::new(Cell::new(false));
    let guard = DropGuard(dropped.clone());
    common::run(async {
        let handle = event::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        event::yield_now().await;
        drop(handle.cancel());
        event::yield_now().await;
        assert!(dropped.get());
    });
}

#[test]
fn cancel_of_a_finished_task_returns_its_output() {
    common::run(async {
        let handle = event::spawn(async { 3 });
        event::yield_now().await;
        event::yield_now().await;
        assert_eq!(handle.cancel().await, Some(3));
    });
}
