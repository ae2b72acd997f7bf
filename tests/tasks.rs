//! Tasks and time on the loop: spawning, cancellation, the cooperative budget, sleeps,
//! `event::timeout` and wakes from other threads. One module per behaviour (each was its own
//! test binary).

mod common;

mod task_spawn {
    use crate::common;

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
}

mod task_cancel {
    use crate::common;

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
}

mod task_budget {
    //! The cooperative budget: a task whose socket is always ready still yields to the others.

    use crate::common;

    use std::cell::Cell;
    use std::io::Write as _;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use event::{Socket, SocketAddress};

    /// A peer that keeps the socket full: a read always finds data, so without a budget the reading
    /// task would never return `Pending`.
    fn flooder(stop: Arc<AtomicBool>) -> (SocketAddress, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().into();
        let thread = std::thread::spawn(move || {
            let (mut client, _) = listener.accept().unwrap();
            let chunk = vec![7u8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                if client.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        (addr, thread)
    }

    #[test]
    fn a_task_reading_a_flood_yields_to_another_task() {
        let stop = Arc::new(AtomicBool::new(false));
        let (addr, thread) = flooder(stop.clone());
        let reads_before_other_ran = common::run(async move {
            let socket = Socket::connect(addr).await.unwrap();
            // Let the flood fill the socket's buffers first.
            event::sleep(std::time::Duration::from_millis(100)).await;
            let other_ran = Rc::new(Cell::new(false));
            let flag = other_ran.clone();
            let other = event::spawn(async move {
                event::yield_now().await;
                flag.set(true);
            });
            let mut buf = [0u8; 64];
            let mut reads = 0u32;
            while !other_ran.get() && reads < 100_000 {
                socket.read_into(&mut buf).await.unwrap();
                reads += 1;
            }
            other.await.unwrap();
            reads
        });
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert!(
            reads_before_other_ran <= 1_000,
            "the reading task ran {reads_before_other_ran} reads before another task got a turn"
        );
    }

    #[test]
    fn a_timer_fires_while_a_task_reads_a_flood() {
        let stop = Arc::new(AtomicBool::new(false));
        let (addr, thread) = flooder(stop.clone());
        let reads = common::run(async move {
            let socket = Socket::connect(addr).await.unwrap();
            event::sleep(std::time::Duration::from_millis(100)).await;
            let fired = Rc::new(Cell::new(false));
            let flag = fired.clone();
            drop(event::spawn(async move {
                event::sleep(std::time::Duration::from_millis(1)).await;
                flag.set(true);
            }));
            let mut reads = 0u32;
            let mut buf = [0u8; 256];
            while !fired.get() && reads < 200_000 {
                socket.read_into(&mut buf).await.unwrap();
                reads += 1;
            }
            reads
        });
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert!(
            reads < 200_000,
            "a 1 ms timer never fired while a task read a flood"
        );
    }
}

mod time_sleep {
    use crate::common;

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
}

mod time_timeout {
    use crate::common;

    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use common::DropGuard;

    #[test]
    fn timeout_fires_and_drops_the_inner_future() {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropGuard(dropped.clone());
        let lp = event::EventLoop::new().unwrap();
        lp.block_on(async {
            let start = Instant::now();
            let inner = async move {
                let _guard = guard;
                std::future::pending::<()>().await
            };
            let mut fut = std::pin::pin!(event::timeout(Duration::from_millis(20), inner));
            let result = (&mut fut).await;
            assert!(result.is_err());
            assert!(start.elapsed() >= Duration::from_millis(20));
            // Dropped as soon as the timeout fired, while the Timeout itself is still alive.
            assert!(dropped.get());
        });
        assert_eq!(lp.stats().timers, 0);
    }

    #[test]
    fn timeout_passes_through_a_fast_result_and_disarms() {
        let lp = event::EventLoop::new().unwrap();
        let out = lp.block_on(event::timeout(Duration::from_secs(10), async {
            event::sleep(Duration::from_millis(1)).await;
            9
        }));
        assert_eq!(out, Ok(9));
        assert_eq!(lp.stats().timers, 0);
    }

    #[test]
    fn elapsed_error_is_distinct_and_printable() {
        let err =
            common::run(event::timeout(Duration::ZERO, std::future::pending::<()>())).unwrap_err();
        assert_eq!(err.to_string(), "deadline has elapsed");
    }

    #[test]
    fn very_long_and_infinite_timeouts_neither_hang_nor_panic() {
        common::run(async {
            // Past the timing wheel's two-year span, and Duration::MAX ("never").
            let long = event::timeout(
                Duration::from_secs(1000 * 86_400),
                event::sleep(Duration::from_millis(20)),
            );
            assert_eq!(long.await, Ok(()));
            assert_eq!(event::timeout(Duration::MAX, async { 1 }).await, Ok(1));
            let forever = event::timeout(Duration::MAX, event::sleep(Duration::from_millis(5)));
            assert_eq!(forever.await, Ok(()));
        });
    }
}

mod wake_cross_thread {
    use crate::common;

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
}
