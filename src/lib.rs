//! TODO crate docs
#![warn(missing_docs)]

mod event_loop;
mod executor;
mod reactor;
mod time;

pub use event_loop::{EventLoop, run};
pub use executor::{JoinError, JoinHandle, LoopHandle, YieldNow, spawn, try_spawn, yield_now};
pub use time::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout};
