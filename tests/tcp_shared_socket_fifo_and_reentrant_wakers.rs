//! Writers sharing one socket (`Rc<Socket>`) are served first come, first served, and the turn
//! survives wakers that act at once: a waker that polls its write synchronously inside `wake`
//! (re-entering the turn while it is being handed on), and one that drops its write there
//! (after it was granted the turn, before it polled), which must pass the turn on. A writer
//! dropped while queued leaves its place. No write's bytes interleave with another's.
mod common;

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
