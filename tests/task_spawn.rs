mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use event::{EventLoop, JoinError};

#[test]
fn spawned_task_output_is_returned_by_its_handle() {
    let out = common::run(async {
        let handle = event::spawn(async {
            event::sleep(Duration::from_millis(1)).await;
            "done".to_string()
        });
        handle.await
    });
    assert_eq!(out.as_deref(), Ok("done"));
}

#[test]
fn non_send_future_can_be_spawned() {
    let out = common::run(async {
        let shared = Rc::new(Cell::new(1));
        let s = shared.clone();
        event::spawn(async move { s.set(s.get() + 1) })
            .await
            .unwrap();
        shared.get()
    });
    assert_eq!(out, 2);
}

#[test]
fn detached_task_still_completes() {
    let done = Rc::new(Cell::new(false));
    let flag = done.clone();
    common::run(async move {
        let handle = event::spawn(async move {
            event::sleep(Duration::from_millis(5)).await;
            flag.set(true);
        });
        drop(handle);
        while !done.get() {
            event::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn hundred_thousand_tasks_complete() {
    let total = common::run(async {
        let counter = Rc::new(Cell::new(0u64));
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| {
                let counter = counter.clone();
                event::spawn(async move {
                    event::yield_now().await;
                    counter.set(counter.get() + 1);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(counter.get(), 100_000);
        sum
    });
    assert_eq!(total, (0..100_000u64).sum());
}

#[test]
fn panicking_task_is_reported_and_loop_carries_on() {
    common::run(async {
        let bad = event::spawn(async {
            event::yield_now().await;
            panic!("boom in a task");
        });
        let good = event::spawn(async {
            event::sleep(Duration::from_millis(5)).await;
            7
        });
        assert_eq!(bad.await, Err(JoinError::Panicked("boom in a task".into())));
        assert_eq!(good.await, Ok(7));
        // The loop still runs new work after the panic.
        assert_eq!(event::spawn(async { 8 }).await, Ok(8));
    });
}

#[test]
fn tasks_spawned_before_block_on_run_inside_it() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.spawn(async { 5 });
    assert_eq!(lp.block_on(handle), Ok(5));
}

#[test]
fn two_loops_on_two_threads_are_independent() {
    let threads: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                common::run(async move {
                    let hs: Vec<_> = (0..1000)
                        .map(|j| event::spawn(async move { i * j }))
                        .collect();
                    let mut sum = 0;
                    for h in hs {
                        sum += h.await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    let sums: Vec<i32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sums, vec![0, (0..1000).sum()]);
}

#[test]
fn loop_handle_spawns_send_futures_from_another_thread() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let out = lp.block_on(async move {
        let remote = std::thread::spawn(move || {
            // The loop is parked in epoll_wait; spawning must wake it.
            std::thread::sleep(Duration::from_millis(20));
            handle.spawn(async { std::thread::current().name().map(String::from) })
        });
        let task = loop {
            if remote.is_finished() {
                break remote.join().unwrap();
            }
            event::sleep(Duration::from_millis(1)).await;
        };
        event::timeout(Duration::from_secs(10), task).await
    });
    // The task ran on the loop's thread, not the spawning one.
    let main_name = std::thread::current().name().map(String::from);
    assert_eq!(out.unwrap().unwrap(), main_name);
}

#[test]
fn dropping_another_loop_inside_a_running_one_is_fine() {
    let out = common::run(async {
        let inner = EventLoop::new().unwrap();
        let h = inner.spawn(async { 1 });
        drop(inner);
        // The outer loop is still current and working.
        drop(h);
        event::spawn(async { 2 }).await.unwrap()
    });
    assert_eq!(out, 2);
}
