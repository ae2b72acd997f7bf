//! `event::spawn` (and `Shutdown::spawn`) where no loop runs panics at the call with a message
//! that says what to do, instead of returning a handle whose task can never run; `try_spawn`
//! is the way to get an error instead.
mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use event::{EventLoop, JoinError, Shutdown};

/// The panic message of `f`, which must panic.
fn panic_of(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast::<&str>().map(|s| s.to_string()).unwrap(),
    }
}

#[test]
fn spawn_without_a_running_loop_panics_with_a_clear_message() {
    let msg = panic_of(|| drop(event::spawn(async { 1 })));
    assert!(
        msg.contains("event::spawn") && msg.contains("no event loop is running"),
        "{msg}"
    );
    assert!(
        msg.contains("event::run") && msg.contains("try_spawn"),
        "{msg}"
    );
}

#[test]
fn spawn_panics_while_a_loop_exists_but_does_not_run() {
    // A loop built but not running is not "the loop on this thread": `EventLoop::spawn` is.
    let lp = EventLoop::new().unwrap();
    let msg = panic_of(|| drop(event::spawn(async { 1 })));
    assert!(msg.contains("no event loop is running"), "{msg}");
    assert_eq!(lp.block_on(lp.spawn(async { 2 })), Ok(2));
}

#[test]
fn try_spawn_without_a_loop_is_an_error() {
    assert!(matches!(
        event::try_spawn(async { 1 }),
        Err(JoinError::NoEventLoop)
    ));
}

#[test]
fn shutdown_spawn_without_a_loop_panics_too() {
    let shutdown = Shutdown::new();
    let msg = panic_of(|| shutdown.spawn(async {}));
    assert!(
        msg.contains("Shutdown::spawn") && msg.contains("no event loop"),
        "{msg}"
    );
    assert_eq!(shutdown.active(), 0);
}

#[test]
fn spawn_inside_a_loop_still_runs_the_task() {
    assert_eq!(
        common::run(async { event::spawn(async { 3 }).await }),
        Ok(3)
    );
}
