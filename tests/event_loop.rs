//! The event loop itself: delivery at teardown, neither starving nor spinning, two loops on one
//! thread, sockets and listeners used in a second loop, the driver named inside a loop, and
//! spawning where no loop runs. One module per behaviour (each was its own test binary).

mod common;

mod loop_drop_delivery {
    //! Bytes a write reported written must reach the peer even when the event loop is torn
    //! down right after (the common `event::run(async { ...; sock.write(..).await })` shape).
    use crate::common;

    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    use event::{EventLoop, Socket, SocketAddress};

    /// A std peer on a thread that waits `delay`, then reads to end of stream; returns what it got.
    fn slow_peer(
        delay: Duration,
        pause_at: usize,
    ) -> (SocketAddress, std::thread::JoinHandle<Vec<u8>>) {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        // Small kernel buffers on the peer, so the writer's send really waits for the reader.
        sock.set_recv_buffer_size(64 * 1024).unwrap();
        sock.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        sock.listen(8).unwrap();
        let l: TcpListener = sock.into();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            std::thread::sleep(delay);
            // A slow, steady reader: the writer's kernel buffers stay full the whole time.
            let mut out = Vec::new();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return out,
                    Err(e) => panic!("peer: no end of stream after {} bytes: {e}", out.len()),
                    Ok(n) => {
                        let before = out.len();
                        out.extend_from_slice(&buf[..n]);
                        if before < pause_at && out.len() >= pause_at {
                            // Near the end, the reader stalls for a while (a busy peer): the
                            // writer's last bytes are still in flight when its loop is dropped.
                            std::thread::sleep(Duration::from_millis(1500));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        (SocketAddress::localhost(port), h)
    }

    fn check(what: &str, write: impl AsyncFnOnce(&Socket, Vec<u8>)) {
        let len = 4 * 1024 * 1024;
        let data = common::pattern(len, 7);
        let (addr, peer) = slow_peer(Duration::from_millis(300), len - 300 * 1024);
        {
            let lp = EventLoop::new().unwrap();
            let d = data.clone();
            lp.block_on(async move {
                let s = Socket::connect(addr).await.unwrap();
                socket2::SockRef::from(&s)
                    .set_send_buffer_size(64 * 1024)
                    .unwrap();
                write(&s, d).await;
                // `s` dropped here: its write-behind bytes keep going while the peer takes them.
            });
            eprintln!(
                "{what}: backend {} stats after block_on: {:?}",
                lp.backend(),
                lp.stats()
            );
            // The loop is dropped right after: every byte the write reported must still arrive.
        }
        let got = peer.join().unwrap();
        assert_eq!(
            got.len(),
            data.len(),
            "{what}: write reported {} bytes written, the peer got {} after the loop was dropped",
            data.len(),
            got.len()
        );
        assert!(got == data, "{what}: bytes differ");
    }

    #[test]
    fn write_then_loop_drop_delivers_every_byte() {
        check("write", async |s, d| s.write(&d).await.unwrap());
    }

    #[test]
    fn write_owned_then_loop_drop_delivers_every_byte() {
        check("write_owned", async |s, d| {
            let (r, _) = s.write_owned(d).await;
            r.unwrap()
        });
    }
}

mod loop_never_starves_or_spins {
    //! The loop neither starves I/O behind a task that keeps yielding nor spins while every
    //! operation waits.
    use crate::common;

    use std::rc::Rc;
    use std::time::Duration;

    use event::Socket;

    /// A task that never waits (it yields in a loop) does not starve socket I/O on its loop.
    #[test]
    fn a_task_that_only_yields_does_not_starve_io() {
        common::run(async {
            let stop = Rc::new(std::cell::Cell::new(false));
            let spins = Rc::new(std::cell::Cell::new(0u64));
            let spinner = {
                let (stop, spins) = (stop.clone(), spins.clone());
                event::spawn(async move {
                    while !stop.get() {
                        spins.set(spins.get() + 1);
                        event::yield_now().await;
                    }
                })
            };
            let addr = common::spawn_echo_server();
            let work = async {
                let s = Rc::new(Socket::connect(addr).await.unwrap());
                let data = Rc::new(common::pattern(1 << 20, 31));
                let writer = {
                    let (s, data) = (s.clone(), data.clone());
                    event::spawn(async move { s.write(&data).await.unwrap() })
                };
                let back = common::read_exact(&s, data.len()).await.unwrap();
                writer.await.unwrap();
                assert!(back == *data);
            };
            let r = event::timeout(Duration::from_secs(10), work).await;
            stop.set(true);
            spinner.await.unwrap();
            assert!(
                r.is_ok(),
                "no echo within 10 s while a task yields in a loop"
            );
            assert!(spins.get() > 0);
        });
    }

    /// A loop whose connections all wait (a receive armed, a receive stopped by backpressure, a
    /// send stalled on a peer that does not read, a dropped write's send still in flight, a pending
    /// accept) sleeps: it uses almost no CPU while nothing happens.
    #[test]
    fn a_loop_with_only_waiting_operations_does_not_spin() {
        common::run(async {
            let (a1, b1) = common::pair().await;
            let (a2, b2) = common::pair().await;
            let (a3, b3) = common::pair().await;
            let (a4, b4) = common::pair().await;
            let a1 = Rc::new(a1);
            let reader = {
                let a1 = a1.clone();
                event::spawn(async move {
                    let _ = a1.read(10).await;
                })
            };
            // b2 receives more than the high-water mark without reading it.
            let _ = b2.read(1).timeout(Duration::from_millis(1)).await;
            let big = common::pattern(8 << 20, 70);
            let _ = a2.write(&big).timeout(Duration::from_millis(100)).await;
            let a3 = Rc::new(a3);
            let writer = {
                let a3 = a3.clone();
                let big = big.clone();
                event::spawn(async move {
                    let _ = a3.write(&big).await;
                })
            };
            let _ = event::timeout(Duration::from_millis(100), a4.write(&big)).await;
            let server = Rc::new(common::listen_local());
            let acceptor = {
                let server = server.clone();
                event::spawn(async move {
                    let _ = server.accept().await;
                })
            };
            event::sleep(Duration::from_millis(100)).await;
            let cpu = common::sys::thread_cpu_time();
            event::sleep(Duration::from_millis(1000)).await;
            let used = common::sys::thread_cpu_time() - cpu;
            assert!(
                used < Duration::from_millis(200),
                "the idle loop used {used:?} of CPU in 1 s"
            );
            reader.cancel().await;
            writer.cancel().await;
            acceptor.cancel().await;
            drop((b1, b2, b3, b4, a2, a4));
        });
    }
}

mod loop_two_on_one_thread {
    //! Two `EventLoop`s on one thread (one running at a time): each loop's tasks run on it alone,
    //! whatever the other does; `block_on` entered again, after a panic, and wake-ups from another
    //! thread. (While a loop runs, its run queue lives in a thread-local; these pin down the
    //! hand-over.)

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
}

mod listener_reused_in_a_second_loop {
    //! A listener outlives the loop it accepted on: made once, it accepts in one `event::run`, then
    //! in the next (it used to wait forever on the first loop's reactor, so the second loop's
    //! accept ended in `Elapsed`), and back on the first loop if that one runs again; on either
    //! driver and from one to the other.
    use crate::common;

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use event::{EventLoop, ServerSocket};

    const LIMIT: Duration = Duration::from_secs(5);

    /// A client connected (through the kernel's backlog) before the loop that accepts it runs.
    fn client(server: &ServerSocket) -> TcpStream {
        let addr: std::net::SocketAddr = server.local_address().into();
        let c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(LIMIT)).unwrap();
        c
    }

    /// On `lp`: accepts the next connection and echoes one message; the client checks the echo.
    fn accept_and_echo(lp: &EventLoop, server: &ServerSocket, round: u8) {
        let mut c = client(server);
        c.write_all(&[b'a' + round; 5]).unwrap();
        // One limit on the whole round: a socket accepted through another loop's reactor would
        // wait there for ever, timeouts included.
        lp.block_on(event::timeout(LIMIT, async {
            let peer = server.accept().await.unwrap();
            let bytes = peer.read(64).await.unwrap();
            peer.write(&bytes).await.unwrap();
        }))
        .unwrap_or_else(|_| panic!("round {round}: no accept and echo within {LIMIT:?}"));
        let mut back = [0u8; 5];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, [b'a' + round; 5], "round {round}");
    }

    #[test]
    fn a_listener_accepts_in_a_second_loop_after_the_first_is_dropped() {
        for first in common::drivers() {
            for second in common::drivers() {
                let server = common::listen_local();
                accept_and_echo(&common::event_loop(first), &server, 0);
                accept_and_echo(&common::event_loop(second), &server, 1);
            }
        }
    }

    #[test]
    fn a_listener_goes_back_and_forth_between_two_live_loops() {
        for first in common::drivers() {
            for second in common::drivers() {
                let (a, b) = (common::event_loop(first), common::event_loop(second));
                let server = common::listen_local();
                for round in 0..4 {
                    let lp = if round % 2 == 0 { &a } else { &b };
                    accept_and_echo(lp, &server, round);
                }
            }
        }
    }

    #[test]
    fn event_run_twice_with_one_listener() {
        // The shape: two `event::run` in sequence (on the driver EVENT_BACKEND names), the
        // accept waiting before the client connects.
        let server = common::listen_local();
        for round in 0..2u8 {
            event::run(event::timeout(LIMIT, async {
                let connect = async {
                    event::sleep(Duration::from_millis(20)).await;
                    event::Socket::connect(server.local_address()).await
                };
                let (peer, client) = common::join(server.accept(), connect).await;
                peer.unwrap().write(&[round]).await.unwrap();
                assert_eq!(client.unwrap().read(1).await.unwrap(), [round]);
            }))
            .unwrap_or_else(|_| panic!("run {round}: no accept within {LIMIT:?}"));
        }
    }

    #[test]
    fn a_connections_stream_left_waiting_on_one_loop_serves_the_next() {
        for first in common::drivers() {
            for second in common::drivers() {
                let server = common::listen_local();
                let mut connections = server.connections();
                // Loop one: the stream waits (a waiter on loop one's reactor), and gives up.
                common::event_loop(first).block_on(async {
                    let r = event::timeout(Duration::from_millis(30), connections.next()).await;
                    assert!(r.is_err(), "nobody connected, yet: {r:?}");
                });
                // Loop two: the same stream gets the next client.
                let mut c = client(&server);
                common::event_loop(second).block_on(async {
                    let peer = event::timeout(LIMIT, connections.next())
                        .await
                        .expect("accept on the second loop")
                        .expect("the stream goes on")
                        .unwrap();
                    peer.write(b"two").await.unwrap();
                });
                let mut b = [0u8; 3];
                c.read_exact(&mut b).unwrap();
                assert_eq!(&b, b"two");
            }
        }
    }
}

mod tcp_socket_in_a_second_loop {
    //! A TCP socket made and used in one `event::run`, then used in a second one after the first
    //! ended: its operations must not hang on the ended loop (whose timers never fire again).

    use crate::common;

    use std::time::{Duration, Instant};

    #[test]
    fn a_socket_of_an_ended_loop_fails_clearly_instead_of_hanging() {
        let (client, server) = event::run(async {
            let (client, server) = common::pair().await;
            let err = server
                .read(16)
                .timeout(Duration::from_millis(10))
                .await
                .unwrap_err();
            assert!(err.is_timeout(), "{err}");
            (client, server)
        });
        let start = Instant::now();
        let err = common::run(async {
            server
                .read(16)
                .timeout(Duration::from_millis(100))
                .await
                .unwrap_err()
        });
        common::assert_failed_as_another_loops(&err, start);
        drop(client);
    }
}

mod udp_socket_in_a_second_loop {
    //! A UDP socket made and used in one `event::run`, then used in a second one after the first
    //! ended: its operations must not hang on the ended loop (whose timers never fire again). A
    //! receive with a timeout ends (with an error that says why), and nothing hangs.

    use crate::common;

    use std::time::{Duration, Instant};

    use event::UdpSocket;

    #[test]
    fn a_socket_of_an_ended_loop_fails_clearly_instead_of_hanging() {
        let socket = event::run(async {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            // Used here: it belongs to this loop from now on. A receive that waits registers it.
            let err = socket
                .recv_from(&mut [0u8; 16])
                .timeout(Duration::from_millis(10))
                .await
                .unwrap_err();
            assert!(err.is_timeout(), "{err}");
            socket
        });
        let start = Instant::now();
        let err = common::run(async {
            socket
                .recv_from(&mut [0u8; 16])
                .timeout(Duration::from_millis(100))
                .await
                .unwrap_err()
        });
        common::assert_failed_as_another_loops(&err, start);
    }
}

mod backend_inside_a_loop {
    //! `event::backend()` inside a running loop names that loop's driver (io_uring or epoll), in
    //! the root future and in its tasks; outside any loop it names the compiled-in multiplexer.
    #![cfg(target_os = "linux")]

    use event::{Backend, EventLoop, PerCore};

    /// What `event::backend()` says in the root future and in a task of a loop built with
    /// `backend`.
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
}

mod spawn_outside_a_loop_panics {
    //! `event::spawn` (and `Shutdown::spawn`) where no loop runs panics at the call with a message
    //! that says what to do, instead of returning a handle whose task can never run; `try_spawn`
    //! is the way to get an error instead.
    use crate::common;

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
}
