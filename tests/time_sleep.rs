mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

#[test]
fn sleep_never_fires_early() {
    common::run(async {
        let mut handles = Vec::new();
        for i in 0..200u64 {
            let d = Duration::from_micros(i * 397 % 50_000);
            handles.push(event::spawn(async move {
                let start = Instant::now();
                event::sleep(d).await;
                (start.elapsed(), d)
            }));
        }
        for h in handles {
            let (took, wanted) = h.await.unwrap();
            assert!(took >= wanted, "slept {took:?}, asked {wanted:?}");
        }
    });
}

#[test]
fn sleep_until_a_past_instant_is_ready_at_once() {
    common::run(async {
        event::sleep_until(Instant::now() - Duration::from_secs(1)).await;
    });
}

#[test]
fn a_deadline_that_passed_while_a_task_ran_completes_at_the_next_turn() {
    common::run(async {
        // The deadline passes while the task runs, after the loop last read the clock: the
        // sleep arms a timer that fires at the next turn.
        let deadline = Instant::now() + Duration::from_millis(2);
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        event::sleep_until(deadline).await;
        let zero = event::timeout(Duration::ZERO, std::future::pending::<()>()).await;
        assert!(zero.is_err());
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn busy_task_does_not_starve_a_timer() {
    common::run(async {
        let stop = Rc::new(Cell::new(false));
        let spins = Rc::new(Cell::new(0u64));
        let (s, n) = (stop.clone(), spins.clone());
        let busy = event::spawn(async move {
            while !s.get() {
                n.set(n.get() + 1);
                event::yield_now().await;
            }
        });
        let start = Instant::now();
        event::sleep(Duration::from_millis(20)).await;
        stop.set(true);
        busy.await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(spins.get() > 0, "the busy task ran meanwhile");
    });
}

struct ThreadWaker(std::thread::Thread);
impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

#[test]
fn sleep_works_outside_an_event_loop() {
    // Polled by a foreign executor (a minimal park/unpark one): no panic, no early completion.
    let waker = Waker::from(std::sync::Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let start = Instant::now();
    let mut sleep = std::pin::pin!(event::sleep(Duration::from_millis(30)));
    while sleep.as_mut().poll(&mut cx) == Poll::Pending {
        std::thread::park_timeout(Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(10), "never woke");
    }
    assert!(start.elapsed() >= Duration::from_millis(30));
}
