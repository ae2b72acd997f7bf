//! `ShutdownTrigger`: a `Send + Sync` switch that begins shutdowns on any loop, from any thread.

use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A `Send + Sync` switch that begins the shutdown of every [`Shutdown`](super::Shutdown) watching it
/// ([`Shutdown::trigger_on`](super::Shutdown::trigger_on)), on any loop, from any thread.
///
/// ```
/// use std::time::Duration;
/// let trigger = event::ShutdownTrigger::new();
/// let remote = trigger.clone();
/// std::thread::spawn(move || remote.fire());
/// event::run(async {
///     let shutdown = event::Shutdown::new();
///     shutdown.trigger_on(&trigger);
///     shutdown.triggered().await;
///     shutdown.drain(Duration::from_secs(1)).await
/// });
/// ```
#[derive(Clone, Default)]
pub struct ShutdownTrigger {
    inner: Arc<TriggerInner>,
}

#[derive(Default)]
struct TriggerInner {
    fired: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl fmt::Debug for ShutdownTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownTrigger")
            .field("fired", &self.is_fired())
            .finish()
    }
}

impl ShutdownTrigger {
    /// A trigger that has not fired.
    pub fn new() -> ShutdownTrigger {
        ShutdownTrigger::default()
    }

    /// Fires: every watching shutdown begins. Idempotent.
    pub fn fire(&self) {
        self.inner.fired.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.lock());
        for w in wakers {
            w.wake();
        }
    }

    /// Whether [`fire`](ShutdownTrigger::fire) has been called.
    pub fn is_fired(&self) -> bool {
        self.inner.fired.load(Ordering::SeqCst)
    }

    /// Resolves once fired.
    pub async fn fired(&self) {
        poll_fn(|cx| {
            if self.is_fired() {
                return Poll::Ready(());
            }
            push_waker(&mut self.lock(), cx.waker());
            // Fired between the check and the push: do not wait for a wake that was missed.
            if self.is_fired() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        self.inner.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Adds `waker` unless an equivalent one is there already: a future polled again and again
/// (raced against other work) must not grow the list.
fn push_waker(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}
