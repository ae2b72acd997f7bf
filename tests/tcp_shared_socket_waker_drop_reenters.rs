//! A queued write whose waker, when the turn lets go of it, drops another queued write of the
//! same socket (a waker that owns a future, as an executor's task handle does once nothing
//! else holds the task): the turn must not be borrowed while it lets a waker go, or the
//! second write's release panics on the borrow.
mod common;

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

/// A waker whose clones (non-null data) drop `OWNED` when they are dropped; the original (null data)
/// owns nothing.
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
