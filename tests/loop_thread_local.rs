//! An `EventLoop` kept in a thread-local is dropped while the thread's thread-locals are being
//! destroyed, in whatever order the thread first used them: the library's own thread-locals may
//! be gone by then. The loop must still tear down quietly (a panic in a thread-local's
//! destructor aborts the process). Each case runs in a child process (this test binary again),
//! because such an abort would take the whole test run with it.

use std::cell::RefCell;
use std::process::Command;
use std::time::Duration;

use event::EventLoop;

thread_local! {
    static LOOP: RefCell<Option<EventLoop>> = const { RefCell::new(None) };
}

/// On a new thread: optionally use the library first (so one of its thread-locals comes into
/// use before ours and another after; thread-locals are destroyed in the reverse order of first
/// use), keep a loop in a thread-local, run it once (optionally leaving a task pending), exit.
fn scenario(library_first: bool, leave_task: bool) {
    std::thread::spawn(move || {
        if library_first {
            // Any call that looks for a running loop outside one.
            assert!(event::try_spawn(async {}).is_err());
        }
        LOOP.with(|l| *l.borrow_mut() = Some(EventLoop::new().unwrap()));
        LOOP.with(|l| {
            let l = l.borrow();
            let lp = l.as_ref().unwrap();
            if leave_task {
                drop(lp.spawn(std::future::pending::<()>()));
            }
            lp.block_on(event::sleep(Duration::from_millis(1)));
        });
        // The thread exits here and LOOP's destructor drops the loop.
    })
    .join()
    .unwrap();
}

fn in_child(case: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("EVENT_TLS_CASE", case)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "case {case}: the child process failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Not a test of its own: the body a child process runs (does nothing in the parent).
#[test]
fn child_entry() {
    match std::env::var("EVENT_TLS_CASE").as_deref() {
        Ok("library_first") => scenario(true, false),
        Ok("library_first_task") => scenario(true, true),
        Ok("loop_first") => scenario(false, false),
        Ok("loop_first_task") => scenario(false, true),
        _ => {}
    }
}

#[test]
fn thread_local_loop_dropped_at_thread_exit_after_the_library_was_used() {
    in_child("library_first");
}

#[test]
fn thread_local_loop_with_a_pending_task_dropped_at_thread_exit_after_the_library_was_used() {
    in_child("library_first_task");
}

#[test]
fn thread_local_loop_dropped_at_thread_exit_when_created_first() {
    in_child("loop_first");
}

#[test]
fn thread_local_loop_with_a_pending_task_dropped_at_thread_exit_when_created_first() {
    in_child("loop_first_task");
}
