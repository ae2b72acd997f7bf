//! Two tasks accepting from clones of one `ServerSocket` both wait on the listener's one read
//! waiter. Whichever of them goes away (its task cancelled, its accept dropped), the other must
//! still be woken by the next connection.

mod common;

use std::time::Duration;

use event::{ServerSocket, Socket};

/// How long the surviving accept may take once a client connected (generous: it is a hang
/// check, a working loop takes microseconds).
const SURVIVOR_BOUND: Duration = Duration::from_secs(5);

fn accept_task(server: ServerSocket) -> event::JoinHandle<Option<Socket>> {
    event::spawn(async move { server.accept().await.ok() })
}

/// Lets the spawned tasks run until they wait on the listener.
async fn settle() {
    event::sleep(Duration::from_millis(20)).await;
}

async fn connect_and_expect_survivor(
    server: &ServerSocket,
    survivor: event::JoinHandle<Option<Socket>>,
) {
    let _client = Socket::connect(server.local_address()).await.unwrap();
    let accepted = event::timeout(SURVIVOR_BOUND, survivor)
        .await
        .expect("the surviving accept was never woken by the connection")
        .unwrap();
    assert!(accepted.is_some(), "the surviving accept failed");
}

#[test]
fn the_first_waiter_cancelled_leaves_the_second_woken() {
    common::run(async {
        let server = common::listen_local();
        let first = accept_task(server.clone());
        settle().await;
        let second = accept_task(server.clone());
        settle().await;
        assert_eq!(first.cancel().await.flatten().map(drop), None);
        connect_and_expect_survivor(&server, second).await;
    });
}

#[test]
fn the_second_waiter_cancelled_leaves_the_first_woken() {
    common::run(async {
        let server = common::listen_local();
        let first = accept_task(server.clone());
        settle().await;
        let second = accept_task(server.clone());
        settle().await;
        assert_eq!(second.cancel().await.flatten().map(drop), None);
        connect_and_expect_survivor(&server, first).await;
    });
}

#[test]
fn a_woken_waiter_dropped_before_it_looks_again_leaves_the_other_woken() {
    // A waits; a connection wakes A; before A runs, B takes the connection and waits in turn;
    // then A's accept is dropped without being polled again. B must still hear of the next.
    common::run(async {
        let server = common::listen_local();
        let stop_a = std::rc::Rc::new(std::cell::Cell::new(false));
        let a = {
            let (server, stop_a) = (server.clone(), stop_a.clone());
            event::spawn(async move {
                let mut accept = std::pin::pin!(server.accept());
                // Polls the accept until told to stop, then drops it unpolled.
                std::future::poll_fn(|cx| {
                    if stop_a.get() {
                        return std::task::Poll::Ready(None);
                    }
                    accept.as_mut().poll(cx).map(|r| r.ok())
                })
                .await
            })
        };
        settle().await;
        let b = {
            let (server, stop_a) = (server.clone(), stop_a.clone());
            event::spawn(async move {
                // Woken with A by the first connection (B's waker is the one in front, so B
                // runs first): B takes it, tells A to stop, and waits for the next one, on
                // the waiter A still counts as its own.
                let first = server.accept().await.ok()?;
                stop_a.set(true);
                let second = server.accept().await.ok()?;
                Some((first, second))
            })
        };
        settle().await;
        let _c1 = Socket::connect(server.local_address()).await.unwrap();
        settle().await;
        let _c2 = Socket::connect(server.local_address()).await.unwrap();
        let got = event::timeout(SURVIVOR_BOUND, b)
            .await
            .expect("B's second accept was never woken")
            .unwrap();
        assert!(got.is_some());
        let _ = a.cancel().await;
    });
}

#[test]
fn acceptors_left_waiting_after_cancels_do_not_spin() {
    // Three acceptors share the waiter, one is cancelled, and accepts with short timeouts come
    // and go in the test's own task (each timeout is a cancel, which wakes the others to look
    // again): once they stop, the loop must go quiet, and the two left still accept.
    common::run(async {
        let server = common::listen_local();
        let mut waiting: Vec<_> = (0..3).map(|_| accept_task(server.clone())).collect();
        settle().await;
        let first = waiting.remove(0);
        assert_eq!(first.cancel().await.flatten().map(drop), None);
        for _ in 0..5 {
            let r = server.accept().timeout(Duration::from_millis(10)).await;
            assert!(r.unwrap_err().is_timeout());
        }
        settle().await;
        let cpu = common::sys::thread_cpu_time();
        event::sleep(Duration::from_millis(1000)).await;
        let used = common::sys::thread_cpu_time() - cpu;
        assert!(
            used < Duration::from_millis(200),
            "two acceptors waiting used {used:?} of CPU in 1 s"
        );
        // And they still accept: two clients, one each.
        let _c1 = Socket::connect(server.local_address()).await.unwrap();
        let _c2 = Socket::connect(server.local_address()).await.unwrap();
        for survivor in waiting {
            let accepted = event::timeout(SURVIVOR_BOUND, survivor)
                .await
                .expect("an acceptor left waiting was never woken")
                .unwrap();
            assert!(accepted.is_some());
        }
    });
}
