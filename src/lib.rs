//! TODO crate docs
#![warn(missing_docs)]

mod event_loop;
mod executor;
mod net;
mod reactor;
mod time;

pub use event_loop::{EventLoop, Stats, backend, run};
pub use executor::{JoinError, JoinHandle, LoopHandle, YieldNow, spawn, try_spawn, yield_now};
pub use net::{
    Accept, Connections, ListenOptions, Read, ReadInto, ServerSocket, Socket, SocketAddress,
    SocketError, Target, Write,
};
pub use time::{Elapsed, Sleep, Timeout, sleep, sleep_until, timeout};
