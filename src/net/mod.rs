//! TCP: addresses, listeners, connected sockets.

mod address;
mod error;
mod listener;
mod op;
mod resolve;
mod stream;

pub use address::SocketAddress;
pub use error::SocketError;
pub use listener::{Accept, Connections, ListenOptions, ServerSocket};
pub use stream::{Read, ReadInto, Socket, Target, Write};
