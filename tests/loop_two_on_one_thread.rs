//! Two `EventLoop`s on one thread (one running at a time): each loop's tasks run on it alone,
//! whatever the other does; `block_on` entered again, after a panic, and wake-ups from another
//! thread. (While a loop runs, its run queue lives in a thread-local; these pin down the hand-over.)

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use event::{EventLoop, yield_now};

async fn timeout<F: std::future::Future>(f: F) -> F::Output {
    event::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out: a task was lost")
}

/// A task spawned on B before B runs, while A runs: it runs on B only.
#[test]
#[allow(clippy::async_yields_async)] // the root future hands B's task handle out, on purpose
fn spawn_on_idle_loop_from_running_loop() {
    let a = EventLoop::new().unwrap();
    let b = Rc::new(EventLoop::new().unwrap());
    let ran_on = Rc::new(RefCell::new(Vec::new()));
    let b2 = b.clone();
    let r2 = ran_on.clone();
    let hb = a.block_on(async move {
        let r3 = r2.clone();
        let h = b2.spawn(async move {
            r3.borrow_mut().push("b1");
            yield_now().await;
            r3.borrow_mut().push("b2");
            7
        });
        // A keeps running its own tasks meanwhile.
        let ha = event::spawn(async move {
            for _ in 0..10 {
                yield_now().await;
            }
            r2.borrow_mut().push("a");
        });
        ha.await.unwrap();
        h
    });
    assert_eq!(*ran_on.borrow(), vec!["a"]);
    assert_eq!(b.block_on(timeout(hb)).unwrap(), 7);
    assert_eq!(*ran_on.borrow(), vec!["a", "b1", "b2"]);
}

/// Dropping an idle loop B from a task of A, while A has other tasks queued and woken.
#[test]
fn drop_other_loop_inside_task_keeps_our_queue() {
    let a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    // B holds tasks: one queued (ready), one pending forever, one half-run.
    let b_dropped_tasks = Rc::new(Cell::new(0));
    struct Count(Rc<Cell<u32>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let c1 = Count(b_dropped_tasks.clone());
    let c2 = Count(b_dropped_tasks.clone());
    drop(b.spawn(async move {
        let _c = c1;
        std::future::pending::<()>().await
    }));
    b.block_on(yield_now());
    drop(b.spawn(async move {
        let _c = c2;
        std::future::pending::<()>().await
    }));
    let b = RefCell::new(Some(b));
    let counter = Rc::new(Cell::new(0u32));
    a.block_on(timeout(async {
        let mut hs = Vec::new();
        for _ in 0..50 {
            let c = counter.clone();
            hs.push(event::spawn(async move {
                for _ in 0..20 {
                    yield_now().await;
                }
                c.set(c.get() + 1);
            }));
        }
        yield_now().await;
        let bb = b.borrow_mut().take();
        let dropper = event::spawn(async move {
            yield_now().await;
            drop(bb);
            yield_now().await;
        });
        dropper.await.unwrap();
        for h in hs {
            h.await.unwrap();
        }
    }));
    assert_eq!(counter.get(), 50);
    assert_eq!(b_dropped_tasks.get(), 2);
    assert_eq!(a.stats().queued_tasks, 0);
}

/// block_on returns with tasks still queued; they keep their place for the next block_on,
/// and meanwhile another loop runs on the thread without picking them up.
#[test]
fn tasks_left_queued_resume_on_their_own_loop() {
    let a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0u32));
    let c = count.clone();
    let h = a.spawn(async move {
        loop {
            c.set(c.get() + 1);
            yield_now().await;
            if c.get() >= 1000 {
                return c.get();
            }
        }
    });
    a.block_on(yield_now());
    let after_a = count.get();
    assert!(after_a < 1000);
    let q = a.stats().queued_tasks;
    assert_eq!(q, 1, "the yielding task is queued");
    // B runs: A's task must not run on B.
    b.block_on(async {
        for _ in 0..50 {
            yield_now().await;
        }
    });
    assert_eq!(count.get(), after_a, "A's task ran while B was running");
    assert_eq!(b.stats().queued_tasks, 0);
    assert_eq!(a.block_on(timeout(h)).unwrap(), 1000);
}

/// A panic in the root future unwinds out of block_on; the loop keeps its tasks and the
/// thread's slot is free for another loop.
#[test]
fn panic_out_of_block_on() {
    let a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0u32));
    let c = count.clone();
    let h = a.spawn(async move {
        for _ in 0..100 {
            c.set(c.get() + 1);
            yield_now().await;
        }
        c.get()
    });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        a.block_on(async {
            yield_now().await;
            yield_now().await;
            panic!("root panics");
        })
    }));
    assert!(r.is_err());
    let after = count.get();
    assert!(after < 100);
    assert_eq!(a.stats().queued_tasks, 1);
    // B on the same thread afterwards.
    let hb = b.spawn(async { 5 });
    assert_eq!(b.block_on(timeout(hb)).unwrap(), 5);
    assert_eq!(count.get(), after);
    assert_eq!(a.block_on(timeout(h)).unwrap(), 100);
}

/// Tasks of A woken from another thread while A is and is not running.
#[test]
fn cross_thread_wakes_while_other_loop_runs() {
    let a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let n2 = n.clone();
    let h = a.spawn(async move {
        for _ in 0..20 {
            let mut sent = false;
            let tx = tx.clone();
            std::future::poll_fn(|cx| {
                if sent {
                    std::task::Poll::Ready(())
                } else {
                    sent = true;
                    tx.send(cx.waker().clone()).unwrap();
                    std::task::Poll::Pending
                }
            })
            .await;
            n2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let waker_thread = std::thread::spawn(move || {
        while let Ok(w) = rx.recv_timeout(Duration::from_secs(5)) {
            std::thread::sleep(Duration::from_millis(1));
            w.wake();
        }
    });
    // Alternate: run B a while (A's wakes come in meanwhile), then A.
    let mut h = Some(h);
    for _ in 0..200 {
        b.block_on(event::sleep(Duration::from_millis(2)));
        let hh = h.take().unwrap();
        let mut hh = Box::pin(hh);
        let done = a.block_on(async {
            event::timeout(Duration::from_millis(3), hh.as_mut())
                .await
                .is_ok()
        });
        if done {
            break;
        }
        h = Some(*std::pin::Pin::into_inner(hh));
    }
    assert_eq!(n.load(Ordering::SeqCst), 20);
    waker_thread.join().unwrap();
}
