//! Host name resolution off the loop thread (`getaddrinfo` blocks).

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

type Slot = Mutex<(Option<io::Result<Vec<SocketAddr>>>, Option<Waker>)>;

/// Resolves `host:port` on a helper thread and wakes the task when done.
pub(crate) fn resolve(host: String) -> Resolve {
    let slot: Arc<Slot> = Arc::new(Mutex::new((None, None)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("event-resolve".into())
        .spawn(move || {
            let result = host.to_socket_addrs().map(Iterator::collect);
            let waker = {
                let mut s = theirs.lock().unwrap_or_else(|e| e.into_inner());
                s.0 = Some(result);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
    if let Err(e) = spawned {
        slot.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(Err(e));
    }
    Resolve { slot }
}

pub(crate) struct Resolve {
    slot: Arc<Slot>,
}

impl Future for Resolve {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match s.0.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
