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
