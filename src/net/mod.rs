//! TCP: addresses, listeners, connected sockets.

mod address;
mod error;
mod io_traits;
pub(crate) mod listener;
pub(crate) mod op;
mod options;
mod read;
mod resolve;
mod stream;
mod target;
mod turn;
mod write;

pub use address::{SocketAddress, ToListenAddress};
pub use error::SocketError;
pub use listener::{Accept, Connections, ServerSocket};
pub use options::{AtLimit, ListenOptions};
pub use read::{Read, ReadBuf, ReadInto};
pub use stream::Socket;
pub use target::Target;
pub use write::{Write, WriteOwned};
