//! Other crates on the loop: tokio-util codecs, runtime-independent channels and locks,
//! `tokio::sync`, and tokio-based crates through tokio's runtime context. One module per behaviour
//! (each was its own test binary).

#[path = "../../tests/common/mod.rs"]
mod common;

mod codec_lines {
    //! tokio-util's `LinesCodec` framing a `Socket` (through the `tokio-io` feature's traits) on
    //! this crate's loop: no tokio runtime involved.
    use crate::common;

    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{Framed, LinesCodec};

    #[test]
    fn lines_codec_round_trips_three_lines_through_an_echo_server() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let socket = event::Socket::connect(addr).await.unwrap();
            let mut lines = Framed::new(socket, LinesCodec::new());
            let sent = ["first line", "second, with ünïcödé", ""];
            for line in sent {
                // `send` encodes and flushes: one line per write.
                lines.send(line).await.unwrap();
            }
            for expected in sent {
                let got = lines.next().await.expect("a frame").expect("a line");
                assert_eq!(got, expected);
            }
        });
    }

    #[test]
    fn lines_codec_splits_a_batch_and_ends_at_end_of_stream() {
        common::run(async {
            let addr = common::spawn_echo_server();
            let socket = event::Socket::connect(addr).await.unwrap();
            let mut lines = Framed::new(socket, LinesCodec::new());
            // `feed` only buffers: the three lines go out together on the flush.
            for line in ["one", "two", "three"] {
                lines.feed(line).await.unwrap();
            }
            SinkExt::<&str>::flush(&mut lines).await.unwrap();
            for expected in ["one", "two", "three"] {
                assert_eq!(lines.next().await.unwrap().unwrap(), expected);
            }
            // Half-close our side: the echo server reads end of stream and closes, and the
            // framed stream ends (Ok(0) from the tokio trait) instead of failing.
            SinkExt::<&str>::close(&mut lines).await.unwrap();
            assert!(lines.next().await.is_none());
        });
    }
}

mod sync_crates {
    //! The runtime-independent channels and locks of well-kept crates work on our loop, as the
    //! crate docs say: tokio::sync (with only its `sync` feature, no tokio runtime),
    //! futures-channel and async-channel. For each: a task sends and another task of the same loop
    //! receives, and a plain thread sends into a task that is already waiting (so the wake-up has
    //! to cross threads and reach the loop).
    use crate::common;

    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};

    /// How long the thread waits before it sends: the receiving task is parked by then.
    const LATER: Duration = Duration::from_millis(30);

    /// Runs `send` on a new thread after `LATER`.
    fn from_thread(send: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            std::thread::sleep(LATER);
            send();
        })
    }

    #[test]
    fn tokio_sync_mpsc_between_tasks_and_from_a_thread() {
        common::run(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
            let sender = event::spawn({
                let tx = tx.clone();
                async move {
                    for i in 0..10 {
                        tx.send(i).await.unwrap(); // waits when the 4 places are taken
                        event::yield_now().await;
                    }
                }
            });
            for i in 0..10 {
                assert_eq!(rx.recv().await, Some(i));
            }
            sender.await.unwrap();
            let thread = from_thread(move || tx.blocking_send(99).unwrap());
            assert_eq!(rx.recv().await, Some(99));
            thread.join().unwrap();
            assert_eq!(rx.recv().await, None); // every sender is gone
        });
    }

    #[test]
    fn tokio_sync_oneshot_notify_mutex_and_broadcast() {
        common::run(async {
            // oneshot, from a thread.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let thread = from_thread(move || tx.send("done").unwrap());
            assert_eq!(rx.await, Ok("done"));
            thread.join().unwrap();
            // Notify, from a thread, to a waiting task.
            let notify = std::sync::Arc::new(tokio::sync::Notify::new());
            let n = notify.clone();
            let thread = from_thread(move || n.notify_one());
            notify.notified().await;
            thread.join().unwrap();
            // Mutex, held across an .await by one task while another waits for it.
            let shared = std::rc::Rc::new(tokio::sync::Mutex::new(Vec::new()));
            let guard = shared.lock().await;
            let other = event::spawn({
                let shared = shared.clone();
                async move { shared.lock().await.push("second") }
            });
            event::sleep(Duration::from_millis(5)).await;
            drop(guard);
            other.await.unwrap();
            shared.lock().await.push("then first");
            assert_eq!(*shared.lock().await, ["second", "then first"]);
            // broadcast: every receiver gets every message.
            let (tx, mut a) = tokio::sync::broadcast::channel(8);
            let mut b = tx.subscribe();
            let sender = event::spawn(async move {
                tx.send(1).unwrap();
                tx.send(2).unwrap();
            });
            sender.await.unwrap();
            for rx in [&mut a, &mut b] {
                assert_eq!((rx.recv().await.unwrap(), rx.recv().await.unwrap()), (1, 2));
            }
        });
    }

    #[test]
    fn futures_channel_between_tasks_and_from_a_thread() {
        common::run(async {
            let (tx, mut rx) = futures_channel::mpsc::channel::<u32>(2);
            let sender = event::spawn({
                let mut tx = tx.clone();
                async move {
                    for i in 0..10 {
                        tx.send(i).await.unwrap();
                    }
                }
            });
            for i in 0..10 {
                assert_eq!(rx.next().await, Some(i));
            }
            sender.await.unwrap();
            let thread = from_thread(move || {
                let mut tx = tx;
                tx.try_send(42).unwrap();
            });
            assert_eq!(rx.next().await, Some(42));
            thread.join().unwrap();
            assert_eq!(rx.next().await, None);
            // oneshot, from a thread.
            let (tx, rx) = futures_channel::oneshot::channel();
            let thread = from_thread(move || tx.send(7).unwrap());
            assert_eq!(rx.await, Ok(7));
            thread.join().unwrap();
        });
    }

    #[test]
    fn async_channel_between_tasks_and_from_a_thread() {
        common::run(async {
            let (tx, rx) = async_channel::bounded::<u32>(2);
            // Two receiving tasks share the work (multi-consumer); together they see every item.
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let rx = rx.clone();
                    event::spawn(async move {
                        let mut got = Vec::new();
                        while let Ok(i) = rx.recv().await {
                            got.push(i);
                        }
                        got
                    })
                })
                .collect();
            for i in 0..20 {
                tx.send(i).await.unwrap();
            }
            drop(tx);
            let mut all = Vec::new();
            for w in workers {
                all.extend(w.await.unwrap());
            }
            all.sort();
            assert_eq!(all, (0..20).collect::<Vec<_>>());
            // From a thread into a waiting task.
            let (tx, rx) = async_channel::unbounded();
            let thread = from_thread(move || tx.send_blocking("over").unwrap());
            assert_eq!(rx.recv().await, Ok("over"));
            thread.join().unwrap();
            assert!(rx.recv().await.is_err()); // closed
        });
    }

    #[test]
    fn a_channel_carries_work_from_one_loop_to_another() {
        // Two loops on two threads: a task of the first sends, a task of the second receives.
        let (tx, rx) = async_channel::unbounded::<String>();
        let second = std::thread::spawn(move || {
            common::run(async move {
                let task = event::spawn(async move { rx.recv().await.unwrap() });
                task.await.unwrap()
            })
        });
        common::run(async move {
            event::sleep(LATER).await;
            event::spawn(async move { tx.send("from loop one".to_string()).await.unwrap() })
                .await
                .unwrap();
        });
        assert_eq!(second.join().unwrap(), "from loop one");
    }
}

mod tokio_sync_works_natively {
    //! `tokio::sync` needs no tokio runtime: its channels, `Mutex` and `Notify` work between event
    //! tasks (and across threads into a loop) as they are.

    use std::rc::Rc;

    #[test]
    fn channels_mutex_and_notify_between_event_tasks() {
        event::run(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
            let producer = event::spawn(async move {
                for i in 0..10 {
                    tx.send(i).await.unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                got.push(i);
            }
            producer.await.unwrap();
            assert_eq!(got, (0..10).collect::<Vec<_>>());

            let lock = Rc::new(tokio::sync::Mutex::new(0));
            let notify = Rc::new(tokio::sync::Notify::new());
            let (l, n) = (lock.clone(), notify.clone());
            let waiter = event::spawn(async move {
                n.notified().await;
                *l.lock().await
            });
            event::yield_now().await;
            *lock.lock().await = 42;
            notify.notify_one();
            assert_eq!(waiter.await.unwrap(), 42);

            // From another thread into the loop.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || tx.send("from a thread").unwrap());
            assert_eq!(rx.await.unwrap(), "from a thread");
        });
    }
}

mod tokio_compat_reqwest {
    //! tokio-based crates from event tasks, through tokio's runtime context: with a (one-worker)
    //! tokio runtime entered on the thread (`Runtime::enter`, held around `event::run`), reqwest
    //! (rustls, no default features) makes requests from an event task to a server on the same
    //! event loop. reqwest's sockets and timers live on the tokio runtime's worker, which drives
    //! their I/O and wakes the event task from there (a cross-thread wake, which the loop takes);
    //! the connection tasks reqwest spawns run on that worker too.

    use std::convert::Infallible;
    use std::time::Duration;

    use event::{Shutdown, Socket, SocketAddress};
    use event_hyper::{RequestBody, Server};
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper::{Request, Response};

    async fn handler(request: Request<RequestBody>) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_string();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        Ok(Response::new(Full::new(Bytes::from(format!(
            "{path} {}",
            String::from_utf8_lossy(&body)
        )))))
    }

    /// The runtime the compat path needs: one worker thread, I/O and time drivers on.
    fn tokio_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn reqwest_from_an_event_task_with_the_runtime_entered() {
        let tokio = tokio_runtime();
        let _context = tokio.enter(); // tokio::spawn, tokio::net, tokio::time now find a runtime
        event::run(async {
            let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            let url = format!("http://{}", listener.local_address());
            let shutdown = Shutdown::new();
            let server = event::spawn(
                Server::new(listener)
                    .shutdown(&shutdown)
                    .serve(hyper::service::service_fn(handler)),
            );
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            // Several requests on reqwest's pooled connection, from a task spawned on the loop.
            let task = event::spawn(async move {
                let mut replies = Vec::new();
                for i in 0..3 {
                    let reply = client
                        .post(format!("{url}/n/{i}"))
                        .body(format!("body {i}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(reply.status(), 200);
                    replies.push(reply.text().await.unwrap());
                }
                // tokio's timer works here too.
                tokio::time::sleep(Duration::from_millis(5)).await;
                replies
            });
            let replies = task.await.unwrap();
            assert_eq!(replies, ["/n/0 body 0", "/n/1 body 1", "/n/2 body 2"]);
            shutdown.trigger();
            server.await.unwrap();
        });
    }

    #[test]
    fn without_the_runtime_tokio_io_panics_with_tokios_message() {
        let result = std::panic::catch_unwind(|| {
            event::run(async {
                let _ = tokio::time::sleep(Duration::from_millis(1)).await;
            })
        });
        let panic = result.unwrap_err();
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(message.contains("no reactor running"), "{message}");
    }
}
