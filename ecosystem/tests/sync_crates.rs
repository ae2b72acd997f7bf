//! The runtime-independent channels and locks of well-kept crates work on our loop, as the crate
//! docs say: tokio::sync (with only its `sync` feature, no tokio runtime), futures-channel and
//! async-channel. For each: a task sends and another task of the same loop receives, and a
//! plain thread sends into a task that is already waiting (so the wake-up has to cross threads
//! and reach the loop).
#[path = "../../tests/common/mod.rs"]
mod common;

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
