//! Several tasks on one TCP socket (an `Rc<Socket>`): their writes in order, first come
//! first served, and wakers that re-enter. One module per behaviour (each was its own test
//! binary).

mod common;

mod tcp_shared_socket {
    //! Several tasks on one socket (an `Rc<Socket>`, as in a chat server's fan-out): their writes
    //! take turns and never interleave, their reads get whole, ordered bytes, and none hangs.

    use crate::common;

    use std::cell::{Cell, RefCell};
    use std::io::Read as _;
    use std::rc::Rc;
    use std::time::Duration;

    use event::{Socket, SocketAddress};

    const LINE: usize = 300_000;
    const LINES_PER_TASK: usize = 20;

    /// Reads `lines` newline-terminated lines from a blocking client and checks that each is one
    /// letter repeated `LINE` times: bytes of two writes mixed would show as a line of two letters
    /// or of the wrong length.
    fn read_lines(mut client: std::net::TcpStream, lines: usize) -> Vec<u8> {
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut all = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        while all.len() < lines * (LINE + 1) {
            let n = client.read(&mut buf).expect("the writers stalled");
            assert!(n > 0, "end of stream after {} bytes", all.len());
            all.extend_from_slice(&buf[..n]);
        }
        let mut letters = Vec::new();
        for (i, line) in all.split(|&b| b == b'\n').take(lines).enumerate() {
            assert_eq!(line.len(), LINE, "line {i} has the wrong length");
            assert!(
                line.iter().all(|&b| b == line[0]),
                "line {i} mixes bytes of two writes"
            );
            letters.push(line[0]);
        }
        letters
    }

    #[test]
    fn writes_from_two_tasks_take_turns_and_each_goes_out_whole() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddress = listener.local_addr().unwrap().into();
        let reader = std::thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            read_lines(client, 2 * LINES_PER_TASK)
        });
        common::run(async move {
            let socket = Rc::new(Socket::connect(addr).await.unwrap());
            let writers: Vec<_> = [b'A', b'B']
                .into_iter()
                .map(|letter| {
                    let socket = socket.clone();
                    event::spawn(async move {
                        let mut line = vec![letter; LINE];
                        line.push(b'\n');
                        for _ in 0..LINES_PER_TASK {
                            socket.write(&line).await.unwrap();
                        }
                    })
                })
                .collect();
            for w in writers {
                w.await.unwrap();
            }
        });
        let letters = reader.join().unwrap();
        assert_eq!(
            letters.iter().filter(|&&l| l == b'A').count(),
            LINES_PER_TASK
        );
        assert_eq!(
            letters.iter().filter(|&&l| l == b'B').count(),
            LINES_PER_TASK
        );
    }

    #[test]
    fn owned_and_borrowed_writes_from_three_tasks_never_interleave() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddress = listener.local_addr().unwrap().into();
        let reader = std::thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            read_lines(client, 3 * 10)
        });
        common::run(async move {
            let socket = Rc::new(Socket::connect(addr).await.unwrap());
            let writers: Vec<_> = [b'A', b'B', b'C']
                .into_iter()
                .map(|letter| {
                    let socket = socket.clone();
                    event::spawn(async move {
                        for _ in 0..10 {
                            let mut line = vec![letter; LINE];
                            line.push(b'\n');
                            if letter == b'B' {
                                socket.write(&line).await.unwrap();
                            } else {
                                let (r, _) = socket.write_owned(line).await;
                                r.unwrap();
                            }
                            event::yield_now().await;
                        }
                    })
                })
                .collect();
            for w in writers {
                w.await.unwrap();
            }
        });
        let letters = reader.join().unwrap();
        for l in [b'A', b'B', b'C'] {
            assert_eq!(letters.iter().filter(|&&x| x == l).count(), 10);
        }
    }

    #[test]
    fn reads_from_two_tasks_get_the_stream_whole_and_in_order() {
        const TOTAL: usize = 4 * 1024 * 1024;
        let data = common::pattern(TOTAL, 7);
        let expected = data.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddress = listener.local_addr().unwrap().into();
        let writer = std::thread::spawn(move || {
            use std::io::Write as _;
            let (mut client, _) = listener.accept().unwrap();
            for chunk in data.chunks(10_000) {
                client.write_all(chunk).unwrap();
            }
        });
        let received = common::run(async move {
            let socket = Rc::new(Socket::connect(addr).await.unwrap());
            // Every completed read appends here, in the order reads complete on the loop.
            let stream = Rc::new(RefCell::new(Vec::with_capacity(TOTAL)));
            let reads = Rc::new(Cell::new(0usize));
            let readers: Vec<_> = (0..2)
                .map(|i| {
                    let (socket, stream, reads) = (socket.clone(), stream.clone(), reads.clone());
                    event::spawn(async move {
                        let mut buf = vec![0; 1000 + i * 3000];
                        loop {
                            match socket.read_into(&mut buf).await {
                                Ok(n) => {
                                    stream.borrow_mut().extend_from_slice(&buf[..n]);
                                    reads.set(reads.get() + 1);
                                }
                                Err(event::SocketError::ConnectionClosed) => return,
                                Err(e) => panic!("reader {i}: {e}"),
                            }
                        }
                    })
                })
                .collect();
            for r in readers {
                r.await.unwrap();
            }
            assert!(reads.get() > 2);
            stream.take()
        });
        writer.join().unwrap();
        assert_eq!(received.len(), TOTAL);
        assert!(received == expected, "the readers' bytes are out of order");
    }
}

mod tcp_shared_socket_fifo_and_reentrant_wakers {
    //! Writers sharing one socket (`Rc<Socket>`) are served first come, first served, and the turn
    //! survives wakers that act at once: a waker that polls its write synchronously inside `wake`
    //! (re-entering the turn while it is being handed on), and one that drops its write there
    //! (after it was granted the turn, before it polled), which must pass the turn on. A writer
    //! dropped while queued leaves its place. No write's bytes interleave with another's.
    use crate::common;

    use std::cell::RefCell;
    use std::future::Future;
    use std::io::Read as _;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, RawWaker, RawWakerVTable, Waker};
    use std::time::Duration;

    use event::{Socket, SocketAddress};

    /// Big enough that the first write waits (the peer reads only once every writer is queued).
    const BIG: usize = 16 * 1024 * 1024;

    type Manual = Pin<Box<dyn Future<Output = ()>>>;

    /// What the synchronous waker does when woken: poll its write at once, or drop it.
    #[derive(Clone, Copy, PartialEq)]
    enum OnWake {
        Poll,
        Drop,
    }

    thread_local! {
        static MANUAL: RefCell<Option<Manual>> = const { RefCell::new(None) };
        static ON_WAKE: std::cell::Cell<OnWake> = const { std::cell::Cell::new(OnWake::Poll) };
        static WOKEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    thread_local! {
        /// `drive` is polling M (a wake now asks for one more poll instead of recursing).
        static POLLING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        static AGAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Polls M with the synchronous waker until it stops asking to be polled again at once
    /// (a write may wake its own task to yield, which must not recurse forever).
    fn drive() -> bool {
        if POLLING.with(|p| p.replace(true)) {
            AGAIN.with(|a| a.set(true));
            return true;
        }
        let pending = loop {
            AGAIN.with(|a| a.set(false));
            let Some(mut f) = MANUAL.with(|m| m.borrow_mut().take()) else {
                break false;
            };
            let waker = sync_waker();
            let pending = f
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending();
            if pending {
                MANUAL.with(|m| *m.borrow_mut() = Some(f));
            }
            if !pending || !AGAIN.with(|a| a.get()) {
                break pending;
            }
        };
        POLLING.with(|p| p.set(false));
        pending
    }

    fn sync_waker() -> Waker {
        fn clone(_: *const ()) -> RawWaker {
            RawWaker::new(std::ptr::null(), &VTABLE)
        }
        fn wake(_: *const ()) {
            if POLLING.with(|p| p.get()) {
                // Woken from inside its own poll: one more poll once that one returns.
                AGAIN.with(|a| a.set(true));
                return;
            }
            WOKEN.with(|w| w.set(w.get() + 1));
            match ON_WAKE.with(|o| o.get()) {
                OnWake::Drop => drop(MANUAL.with(|m| m.borrow_mut().take())),
                OnWake::Poll => {
                    drive();
                }
            }
        }
        fn drop_waker(_: *const ()) {}
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop_waker);
        // SAFETY: the vtable's functions ignore the (null) data pointer.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
    }

    /// Reads everything until end of stream; returns the runs of equal bytes as (byte, length).
    fn runs(mut client: std::net::TcpStream) -> Vec<(u8, usize)> {
        client
            .set_read_timeout(Some(Duration::from_secs(8)))
            .unwrap();
        let mut all = Vec::new();
        client.read_to_end(&mut all).expect("the writers stalled");
        let mut runs: Vec<(u8, usize)> = Vec::new();
        for b in all {
            match runs.last_mut() {
                Some((l, n)) if *l == b => *n += 1,
                _ => runs.push((b, 1)),
            }
        }
        runs
    }

    /// A holds the turn with a big write; then, in this order, M (polled by the synchronous waker),
    /// Q (dropped while queued), C and D ask for it. Returns what the peer received.
    fn scenario(on_wake: OnWake) -> Vec<(u8, usize)> {
        ON_WAKE.with(|o| o.set(on_wake));
        WOKEN.with(|w| w.set(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddress = listener.local_addr().unwrap().into();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            // Read only once every writer has asked for the turn.
            go_rx.recv_timeout(Duration::from_secs(8)).unwrap();
            runs(client)
        });
        common::run(async move {
            let socket = Rc::new(Socket::connect(addr).await.unwrap());
            socket2::SockRef::from(&*socket)
                .set_send_buffer_size(64 * 1024)
                .unwrap();
            let a = {
                let socket = socket.clone();
                event::spawn(async move { socket.write(&vec![b'A'; BIG]).await.unwrap() })
            };
            // Let A start and hold the turn (its write cannot finish: nobody reads).
            event::sleep(Duration::from_millis(50)).await;
            let m: Manual = {
                let socket = socket.clone();
                Box::pin(async move { socket.write(&vec![b'M'; 1000]).await.unwrap() })
            };
            MANUAL.with(|s| *s.borrow_mut() = Some(m));
            assert!(drive(), "M waits behind A");
            // Q queues, then is dropped while queued.
            let q = {
                let socket = socket.clone();
                event::spawn(async move { socket.write(&vec![b'Q'; 1000]).await.unwrap() })
            };
            event::sleep(Duration::from_millis(10)).await;
            assert_eq!(q.cancel().await, None, "Q had the turn");
            let later: Vec<_> = [b'C', b'D']
                .into_iter()
                .map(|letter| {
                    let socket = socket.clone();
                    event::spawn(async move { socket.write(&vec![letter; 100_000]).await.unwrap() })
                })
                .collect();
            event::sleep(Duration::from_millis(10)).await;
            go_tx.send(()).unwrap();
            a.await.unwrap();
            for h in later {
                event::timeout(Duration::from_secs(8), h)
                    .await
                    .expect("a queued writer never got the turn")
                    .unwrap();
            }
            // M, if it was polled rather than dropped, has finished by now.
            let left = MANUAL.with(|s| s.borrow_mut().take());
            assert!(
                left.is_none(),
                "M still pending after the writers behind it finished"
            );
            assert!(WOKEN.with(|w| w.get()) >= 1, "M was never woken");
            drop(socket);
        });
        reader.join().unwrap()
    }

    #[test]
    fn a_waker_that_polls_inside_wake_is_served_in_its_place() {
        let runs = scenario(OnWake::Poll);
        assert_eq!(
            runs,
            vec![(b'A', BIG), (b'M', 1000), (b'C', 100_000), (b'D', 100_000)]
        );
    }

    #[test]
    fn a_write_dropped_by_its_waker_when_granted_passes_the_turn_on() {
        let runs = scenario(OnWake::Drop);
        assert_eq!(runs, vec![(b'A', BIG), (b'C', 100_000), (b'D', 100_000)]);
    }
}

mod tcp_shared_socket_waker_drop_reenters {
    //! A queued write whose waker, when the turn lets go of it, drops another queued write of the
    //! same socket (a waker that owns a future, as an executor's task handle does once nothing
    //! else holds the task): the turn must not be borrowed while it lets a waker go, or the
    //! second write's release panics on the borrow.
    use crate::common;

    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, RawWaker, RawWakerVTable, Waker};
    use std::time::Duration;

    type Boxed = Pin<Box<dyn Future<Output = ()>>>;

    thread_local! {
        /// Owned by the clones of the waker below: the last of them to go drops it.
        static OWNED: RefCell<Option<Boxed>> = const { RefCell::new(None) };
    }

    /// A waker whose clones (non-null data) drop `OWNED` when they are dropped; the original (null
    /// data) owns nothing.
    fn owning_waker() -> Waker {
        fn clone(_: *const ()) -> RawWaker {
            RawWaker::new(std::ptr::dangling::<()>(), &VTABLE)
        }
        fn wake(data: *const ()) {
            drop_waker(data);
        }
        fn wake_by_ref(_: *const ()) {}
        fn drop_waker(data: *const ()) {
            if !data.is_null() {
                let owned = OWNED.with(|o| o.borrow_mut().take());
                drop(owned);
            }
        }
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);
        // SAFETY: the functions only look at whether the data pointer is null.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
    }

    #[test]
    fn a_waker_dropping_another_queued_write_as_it_goes_does_not_panic() {
        common::run(async {
            let (client, server) = common::pair().await;
            let server = Rc::new(server);
            socket2::SockRef::from(&*server)
                .set_send_buffer_size(64 * 1024)
                .unwrap();
            // A holds the write turn: nobody reads yet.
            let a = {
                let server = server.clone();
                event::spawn(async move { server.write(&vec![b'A'; 16 << 20]).await.unwrap() })
            };
            event::sleep(Duration::from_millis(50)).await;
            assert!(!a.is_finished());
            let mut first: Boxed = {
                let server = server.clone();
                Box::pin(async move { server.write(b"first").await.unwrap() })
            };
            let owning = owning_waker();
            assert!(
                first
                    .as_mut()
                    .poll(&mut Context::from_waker(&owning))
                    .is_pending()
            );
            let mut second: Boxed = {
                let server = server.clone();
                Box::pin(async move { server.write(b"second").await.unwrap() })
            };
            assert!(
                second
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_pending()
            );
            OWNED.with(|o| *o.borrow_mut() = Some(second));
            // Leaving the queue lets go of the first's waker, which drops the second.
            drop(first);
            assert!(
                OWNED.with(|o| o.borrow().is_none()),
                "the waker was not dropped"
            );
            // The turn still works: A finishes once the client reads, and a new write follows it.
            let reader = event::spawn(async move {
                let mut n = 0;
                while n < (16 << 20) + 4 {
                    n += client.read(64 * 1024).await.unwrap().len();
                }
            });
            a.await.unwrap();
            event::timeout(Duration::from_secs(5), server.write(b"last"))
                .await
                .expect("the turn was lost")
                .unwrap();
            event::timeout(Duration::from_secs(5), reader)
                .await
                .expect("bytes lost")
                .unwrap();
        });
    }
}
