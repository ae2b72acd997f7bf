//! `signal_stream`: Unix signals delivered on the loop as a `Stream` of signal numbers.
//!
//! The raw handler (installed by `signal-hook`) only writes to a self-pipe that the loop watches;
//! everything else happens on the loop. While any stream watches a signal its default action is
//! suppressed; once the last one is dropped the default action is back, so a second Ctrl-C after
//! a graceful shutdown has begun and ended its stream kills the process as usual.

use std::cell::OnceCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use signal_hook_mio::v1_0::Signals;

use crate::driver::{Direction, Registration};
use crate::event_loop;
use crate::net::op::{OpPoll, OpState};

pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/// Per signal: its watchers.
static WATCHED: Mutex<Option<HashMap<i32, Watch>>> = Mutex::new(None);

/// How many streams watch one signal, and the flag that turns its default action back on.
type Watch = (usize, Arc<AtomicBool>);

fn watch(signals: &[i32]) -> io::Result<()> {
    let mut guard = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    for (done, &sig) in signals.iter().enumerate() {
        if let Some((count, default_on)) = map.get_mut(&sig) {
            *count += 1;
            default_on.store(false, Ordering::SeqCst);
            continue;
        }
        let default_on = Arc::new(AtomicBool::new(false));
        if let Err(e) = signal_hook::flag::register_conditional_default(sig, default_on.clone()) {
            // Undo the signals already counted, so their default action is not left off.
            drop(guard);
            unwatch(&signals[..done]);
            return Err(e);
        }
        map.insert(sig, (1, default_on));
    }
    Ok(())
}

fn unwatch(signals: &[i32]) {
    let mut guard = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = guard.as_mut() else { return };
    for sig in signals {
        if let Some((count, default_on)) = map.get_mut(sig) {
            *count -= 1;
            if *count == 0 {
                default_on.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// A stream of the signals received, in order, as their numbers.
///
/// Every stream watching a signal receives it (two streams, on one loop or two, both see each
/// delivery). Dropping the last stream for a signal restores its default action.
///
/// ```
/// use event::signal::{signal_stream, SIGUSR1};
/// event::run(async {
///     let mut signals = signal_stream(&[SIGUSR1])?;
///     signal_hook::low_level::raise(SIGUSR1)?;
///     assert_eq!(signals.next().await, Some(SIGUSR1));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal_stream(signals: &[i32]) -> io::Result<SignalStream> {
    if signals
        .iter()
        .any(|s| signal_hook::consts::FORBIDDEN.contains(s))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signals {signals:?} include one that cannot be caught (SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV)"
            ),
        ));
    }
    watch(signals)?;
    match Signals::new(signals) {
        Ok(source) => Ok(SignalStream {
            source,
            numbers: signals.to_vec(),
            reg: OnceCell::new(),
            pending: VecDeque::new(),
            op: OpState::new(None),
        }),
        Err(e) => {
            unwatch(signals);
            Err(e)
        }
    }
}

/// The stream of [`signal_stream`]. Never ends by itself; drop it to stop watching.
pub struct SignalStream {
    source: Signals,
    numbers: Vec<i32>,
    reg: OnceCell<Registration>,
    pending: VecDeque<i32>,
    op: OpState,
}

impl fmt::Debug for SignalStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalStream")
            .field("signals", &self.numbers)
            .finish()
    }
}

impl SignalStream {
    /// The next signal received. `None` only if the loop's multiplexer refuses the stream (there
    /// is no loop on this thread, or it is out of resources).
    pub async fn next(&mut self) -> Option<i32> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl futures_core::Stream for SignalStream {
    type Item = i32;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<i32>> {
        let this = &mut *self;
        if let Some(sig) = this.pending.pop_front() {
            return Poll::Ready(Some(sig));
        }
        if this.reg.get().is_none() {
            let Some(core) = event_loop::current() else {
                return Poll::Ready(None);
            };
            match Registration::new(core, &mut this.source) {
                Ok(reg) => {
                    let _ = this.reg.set(reg);
                }
                Err(_) => return Poll::Ready(None),
            }
        }
        let Some(reg) = this.reg.get() else {
            return Poll::Ready(None);
        };
        let source = &mut this.source;
        let pending = &mut this.pending;
        let polled = this.op.poll_ready(reg, Direction::Read, cx, || {
            pending.extend(source.pending());
            if pending.is_empty() {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(((), false))
            }
        });
        match polled {
            Poll::Ready(OpPoll::Done(Ok(()))) => {
                crate::trace::event!(info, signals = ?this.pending, "signal received");
                Poll::Ready(this.pending.pop_front())
            }
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for SignalStream {
    fn drop(&mut self) {
        if let Some(reg) = self.reg.get() {
            self.op.cancel(reg, Direction::Read);
        }
        // `Signals` unregisters its own handler actions when it is dropped, right after this.
        unwatch(&self.numbers);
    }
}
