//! `event::backend()` inside a running loop names that loop's driver (io_uring or epoll), in
//! the root future and in its tasks; outside any loop it names the compiled-in multiplexer.
#![cfg(target_os = "linux")]

use event::{Backend, EventLoop, PerCore};

/// What `event::backend()` says in the root future and in a task of a loop built with `backend`.
fn seen_inside(lp: &EventLoop) -> (&'static str, &'static str) {
    lp.block_on(async {
        let task = event::spawn(async { event::backend() }).await.unwrap();
        (event::backend(), task)
    })
}

#[test]
fn inside_an_epoll_loop_backend_says_epoll() {
    let lp = EventLoop::builder()
        .backend(Backend::Epoll)
        .build()
        .unwrap();
    assert_eq!(seen_inside(&lp), ("epoll", "epoll"));
    assert_eq!(event::backend(), "epoll");
}

#[test]
fn inside_an_io_uring_loop_backend_says_io_uring() {
    // CI sets EVENT_NO_IO_URING when its machine refuses io_uring (see .ci/run).
    if std::env::var_os("EVENT_NO_IO_URING").is_some() {
        return;
    }
    let lp = EventLoop::builder()
        .backend(Backend::IoUring)
        .build()
        .unwrap_or_else(|e| panic!("Backend::IoUring: {e}"));
    assert_eq!(seen_inside(&lp), ("io_uring", "io_uring"));
    // Once the loop has returned, the thread has no loop: the multiplexer again.
    assert_eq!(event::backend(), "epoll");
}

#[test]
fn per_core_loops_report_their_own_driver() {
    let mut drivers = vec![(Backend::Epoll, "epoll")];
    if std::env::var_os("EVENT_NO_IO_URING").is_none() {
        drivers.push((Backend::IoUring, "io_uring"));
    }
    for (backend, name) in drivers {
        let seen = PerCore::new()
            .threads(2)
            .backend(backend)
            .run(|_| async { event::backend() });
        assert_eq!(seen, vec![Ok(name), Ok(name)]);
    }
}
