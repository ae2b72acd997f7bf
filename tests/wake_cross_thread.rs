mod common;

use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

#[test]
fn waker_fired_from_another_thread_resumes_the_task() {
    let state: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
    let theirs = state.clone();
    let out = common::run(async move {
        let task = event::spawn(async move {
            std::future::poll_fn(|cx| {
                let mut s = state.lock().unwrap();
                if s.0 {
                    Poll::Ready("woken")
                } else {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await
        });
        std::thread::spawn(move || {
            // Long enough that the loop is blocked in epoll_wait with nothing else to do.
            std::thread::sleep(Duration::from_millis(50));
            let waker = {
                let mut s = theirs.lock().unwrap();
                s.0 = true;
                s.1.take()
            };
            waker.expect("the task registered its waker").wake();
        });
        task.await.unwrap()
    });
    assert_eq!(out, "woken");
}

#[test]
fn block_on_future_woken_from_another_thread() {
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f2 = flag.clone();
    std::thread::spawn(move || {
        let w = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        f2.store(true, std::sync::atomic::Ordering::SeqCst);
        w.wake();
    });
    let lp = event::EventLoop::new().unwrap();
    let mut sent = Some(tx);
    lp.block_on(std::future::poll_fn(|cx| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if let Some(tx) = sent.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::Pending
    }));
}
