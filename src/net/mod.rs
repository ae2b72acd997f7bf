//! TCP: addresses, listeners, connected sockets.

mod address;
mod error;
mod io_traits;
pub(crate) mod listener;
pub(crate) mod op;
mod resolve;
mod stream;
mod turn;

pub use address::{SocketAddress, ToListenAddress};
pub use error::SocketError;
pub use listener::{Accept, AtLimit, Connections, ListenOptions, ServerSocket};
pub use stream::{Read, ReadBuf, ReadInto, Socket, Target, Write, WriteOwned};
