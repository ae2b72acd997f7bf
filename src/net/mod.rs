//! TCP: addresses, listeners, connected sockets.

mod address;
mod error;
mod io_traits;
pub(crate) mod listener;
pub(crate) mod op;
mod options;
mod resolve;
mod stream;
mod turn;

pub use address::{SocketAddress, ToListenAddress};
pub use error::SocketError;
pub use listener::{Accept, Connections, ServerSocket};
pub use options::{AtLimit, ListenOptions};
pub use stream::{Read, ReadBuf, ReadInto, Socket, Target, Write, WriteOwned};
