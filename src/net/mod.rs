//! TCP (addresses, listeners, connected sockets), UDP sockets, and Unix-domain stream sockets.

mod accept;
mod address;
mod conn;
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
mod udp;
mod udp_ops;
mod unix;
mod unix_address;
mod unix_listener;
mod write;

pub use address::{SocketAddress, ToListenAddress};
pub use conn::StreamSocket;
pub use error::SocketError;
pub use listener::{Accept, Connections, ServerSocket};
pub use options::{AtLimit, ListenOptions};
pub use read::{Read, ReadBuf, ReadInto};
pub use stream::Socket;
pub use target::Target;
pub use udp::{UdpOptions, UdpSocket};
pub use udp_ops::{Datagrams, Recv, RecvFrom, SendDatagram, SendTo};
pub use unix::{PeerCredentials, UnixSocket};
pub use unix_address::UnixAddress;
pub use unix_listener::{UnixListenOptions, UnixServerSocket};
pub use write::{Write, WriteOwned};
