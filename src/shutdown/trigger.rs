//! `ShutdownTrigger`: a `Send + Sync` switch that begins shutdowns on any loop, from any thread.

use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use slab::Slab;

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
    /// The tasks waiting in `fired`, each under the key its wait removes when it ends.
    wakers: Mutex<Slab<Waker>>,
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
        let wakers: Vec<Waker> = self.lock().iter().map(|(_, w)| w.clone()).collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Whether [`fire`](ShutdownTrigger::fire) has been called.
    pub fn is_fired(&self) -> bool {
        self.inner.fired.load(Ordering::SeqCst)
    }

    /// Resolves once fired. A wait that ends first (its `Shutdown` dropped, say) leaves nothing
    /// behind.
    pub async fn fired(&self) {
        let mut waiting = Waiting {
            trigger: self,
            key: None,
        };
        poll_fn(|cx| {
            if self.is_fired() {
                return Poll::Ready(());
            }
            waiting.register(cx.waker());
            // Fired between the check and the registration: do not wait for a wake that was
            // missed.
            if self.is_fired() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slab<Waker>> {
        self.inner.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One wait in [`ShutdownTrigger::fired`]: its waker is registered until the wait is dropped.
struct Waiting<'a> {
    trigger: &'a ShutdownTrigger,
    key: Option<usize>,
}

impl Waiting<'_> {
    fn register(&mut self, waker: &Waker) {
        let mut wakers = self.trigger.lock();
        match self.key.and_then(|k| wakers.get_mut(k)) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => *w = waker.clone(),
            None => self.key = Some(wakers.insert(waker.clone())),
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let waker = self.trigger.lock().try_remove(key);
            drop(waker);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    #[test]
    fn a_wait_for_the_trigger_that_ends_leaves_no_waker_behind() {
        let trigger = ShutdownTrigger::new();
        for _ in 0..100 {
            let (_, waker) = crate::test_waker::counting_waker();
            let mut fired = pin!(trigger.fired());
            assert!(
                fired
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
        }
        assert_eq!(trigger.lock().len(), 0);
        let (count, waker) = crate::test_waker::counting_waker();
        let mut live = pin!(trigger.fired());
        assert!(
            live.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        trigger.fire();
        assert_eq!(count.get(), 1);
        assert!(
            live.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        );
    }
}
