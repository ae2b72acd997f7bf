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

#[test]
fn dropping_the_loop_frees_tasks_waiting_on_other_tasks_and_closes_their_sockets() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let guard = DropGuard(dropped.clone());
    let lp = event::EventLoop::new().unwrap();
    lp.block_on(async {
        // B waits to read; A waits for B's handle: A's waker lives only inside B's task.
        let b = event::spawn(async move {
            let _guard = guard;
            let s = event::Socket::connect(addr).await.unwrap();
            let _ = s.read(10).await;
        });
        let _a = event::spawn(async move {
            let _ = b.await;
        });
        event::sleep(Duration::from_millis(20)).await;
    });
    let (mut peer, _) = listener.accept().unwrap();
    drop(lp);
    assert!(dropped.get(), "the waiting task was dropped with its loop");
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        peer.read(&mut buf).unwrap(),
        0,
        "its socket was closed: the peer reads EOF"
    );
}

#[test]
fn dropping_the_loop_also_frees_tasks_spawned_from_another_thread() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    struct SendGuard(Arc<AtomicBool>);
    impl Drop for SendGuard {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SendGuard(dropped.clone());
    let lp = event::EventLoop::new().unwrap();
    let handle = lp.handle();
    // The task waits on a waker that someone else keeps and never fires.
    let kept: Arc<std::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
    let k = kept.clone();
    std::thread::spawn(move || {
        handle
            .spawn(async move {
                let _guard = guard;
                std::future::poll_fn(|cx| {
                    *k.lock().unwrap() = Some(cx.waker().clone());
                    std::task::Poll::<()>::Pending
                })
                .await
            })
            .detach();
    })
    .join()
    .unwrap();
    lp.block_on(event::sleep(Duration::from_millis(10)));
    assert!(
        kept.lock().unwrap().is_some(),
        "the task ran and is waiting"
    );
    drop(lp);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the loop's drop cancelled the task"
    );
}
